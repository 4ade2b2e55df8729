using System.Globalization;
using Microsoft.Extensions.Options;
using MimeKit;
using Tiaki.Server.Features.Notifications.Channels;

namespace Tiaki.Server.Features.Notifications;

/// <summary>
/// SMTP_* (the default e-mail channel), TIAKI_PUBLIC_URL (links in messages) and delivery tuning.
/// Parsed by <see cref="NotificationOptionsSetup"/>, which records every bad key so start-up names them all.
/// </summary>
internal sealed class NotificationOptions
{
    /// <summary>The channel built from SMTP_*; null when SMTP_HOST is not set.</summary>
    public EmailSettings? DefaultEmail { get; set; }

    /// <summary>Base URL of the dashboard as users reach it, e.g. https://tiaki.example.org.</summary>
    public Uri? PublicUrl { get; set; }

    public int MaxAttempts { get; set; } = 8;
    public TimeSpan RetryBase { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan RetryMax { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long a replica may hold a claimed delivery before another one may take it over.</summary>
    public TimeSpan SendLease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often the dispatcher looks for due deliveries written by other replicas.</summary>
    public TimeSpan DispatchInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often held-back updates and agent presence are re-evaluated.</summary>
    public TimeSpan EvaluationInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Sent and given-up deliveries older than this are deleted.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    internal List<string> Errors { get; } = [];

    /// <summary>Backoff after the <paramref name="attempts"/>-th failure: base, 2×base, 4×base ... capped.</summary>
    public TimeSpan Backoff(int attempts)
    {
        var factor = Math.Pow(2, Math.Clamp(attempts - 1, 0, 20));
        var delay = TimeSpan.FromTicks((long)Math.Min(RetryBase.Ticks * factor, RetryMax.Ticks));
        return delay;
    }

    public string? LinkTo(string relative) => PublicUrl is null ? null : new Uri(PublicUrl, relative.TrimStart('/')).ToString();
}

internal sealed class NotificationOptionsSetup(IConfiguration configuration) : IConfigureOptions<NotificationOptions>
{
    public void Configure(NotificationOptions o)
    {
        string? Get(string key) => configuration[key] is { Length: > 0 } v ? v.Trim() : null;

        if (Get("TIAKI_PUBLIC_URL") is { } url)
        {
            if (Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var u) && u.Scheme is "http" or "https")
            {
                o.PublicUrl = u;
            }
            else
            {
                o.Errors.Add("TIAKI_PUBLIC_URL: must be an absolute http(s) URL, e.g. https://tiaki.example.org");
            }
        }

        o.MaxAttempts = Int("NOTIFY_MAX_ATTEMPTS", o.MaxAttempts, 1, 100);
        o.RetryBase = TimeSpan.FromSeconds(Int("NOTIFY_RETRY_SECONDS", (int)o.RetryBase.TotalSeconds, 1, 86400));
        o.Retention = TimeSpan.FromDays(Int("NOTIFY_RETENTION_DAYS", (int)o.Retention.TotalDays, 1, 3650));
        o.EvaluationInterval = TimeSpan.FromSeconds(Int("POLICY_EVALUATION_SECONDS", (int)o.EvaluationInterval.TotalSeconds, 1, 86400));

        ConfigureDefaultEmail(o, Get);

        int Int(string key, int fallback, int min, int max) => Configuration.Settings.Int(Get(key), key, fallback, min, max, o.Errors);
    }

    private static void ConfigureDefaultEmail(NotificationOptions o, Func<string, string?> get)
    {
        string[] keys = ["SMTP_HOST", "SMTP_PORT", "SMTP_SECURE", "SMTP_USER", "SMTP_PASS", "SMTP_FROM", "SMTP_TO"];
        var host = get("SMTP_HOST");
        if (host is null)
        {
            var stray = keys.Where(k => get(k) is not null).ToList();
            if (stray.Count > 0)
            {
                o.Errors.Add($"SMTP_HOST: required when {string.Join(", ", stray)} {(stray.Count == 1 ? "is" : "are")} set");
            }

            return;
        }

        var errors = o.Errors.Count;
        var security = SmtpSecurity.Auto;
        if (get("SMTP_SECURE") is { } secure)
        {
            switch (secure.ToLowerInvariant())
            {
                case "true" or "tls" or "ssl": security = SmtpSecurity.Tls; break;
                case "false" or "auto": security = SmtpSecurity.Auto; break;
                case "starttls": security = SmtpSecurity.StartTls; break;
                case "none": security = SmtpSecurity.None; break;
                default: o.Errors.Add("SMTP_SECURE: must be true (TLS from the start, port 465), false (STARTTLS when offered), starttls or none"); break;
            }
        }

        var port = security == SmtpSecurity.Tls ? 465 : 587;
        if (get("SMTP_PORT") is { } rawPort)
        {
            if (!int.TryParse(rawPort, NumberStyles.Integer, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
            {
                o.Errors.Add("SMTP_PORT: must be a whole number from 1 to 65535");
            }
        }

        var user = get("SMTP_USER");
        var pass = get("SMTP_PASS");
        if (pass is not null && user is null)
        {
            o.Errors.Add("SMTP_USER: required when SMTP_PASS is set");
        }

        var from = get("SMTP_FROM");
        if (from is null)
        {
            o.Errors.Add("SMTP_FROM: required when SMTP_HOST is set (the sender address)");
        }
        else if (!Addresses.IsValid(from))
        {
            o.Errors.Add("SMTP_FROM: not an e-mail address");
        }

        var to = (get("SMTP_TO") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (to.Length == 0)
        {
            o.Errors.Add("SMTP_TO: required when SMTP_HOST is set (comma-separated recipients)");
        }
        else if (to.FirstOrDefault(a => !Addresses.IsValid(a)) is { } bad)
        {
            o.Errors.Add($"SMTP_TO: '{bad}' is not an e-mail address");
        }

        if (o.Errors.Count == errors)
        {
            o.DefaultEmail = new EmailSettings(host, port, security, user, pass, from!, to);
        }
    }
}

internal sealed class NotificationOptionsValidator : IValidateOptions<NotificationOptions>
{
    public ValidateOptionsResult Validate(string? name, NotificationOptions options) =>
        options.Errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(options.Errors);
}

internal static class Addresses
{
    /// <summary>MimeKit accepts a bare local part ("nobody"); a mail server would not, so require a domain too.</summary>
    public static bool IsValid(string? value) =>
        value is not null && MailboxAddress.TryParse(value, out var m) && m.Address.IndexOf('@', StringComparison.Ordinal) > 0 && !m.Address.EndsWith('@');
}
