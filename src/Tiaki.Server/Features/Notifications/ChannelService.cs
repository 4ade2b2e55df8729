using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Audit;
using Tiaki.Server.Features.Notifications.Channels;

namespace Tiaki.Server.Features.Notifications;

/// <summary>Create/replace body. Secrets (password, secret, token): omitted or null keeps the stored one, "" clears it.</summary>
internal sealed record ChannelRequest(
    string Name,
    string Kind,
    bool? Enabled = null,
    IReadOnlyList<string>? Events = null,
    EmailChannelSettings? Email = null,
    WebhookChannelSettings? Webhook = null,
    NtfyChannelSettings? Ntfy = null);

internal sealed record EmailChannelSettings(
    string? Host = null, int? Port = null, string? Security = null, string? User = null, string? Password = null,
    string? From = null, IReadOnlyList<string>? To = null);

internal sealed record WebhookChannelSettings(string? Url = null, string? Secret = null);

internal sealed record NtfyChannelSettings(string? Server = null, string? Topic = null, string? Token = null, int? Priority = null);

internal sealed record EmailChannelView(string Host, int Port, string Security, string? User, bool HasPassword, string From, IReadOnlyList<string> To);

internal sealed record WebhookChannelView(string Url, bool HasSecret);

internal sealed record NtfyChannelView(string Server, string Topic, int? Priority, bool HasToken);

/// <summary>A channel as the API and the dashboard show it: never a secret, only whether one is set.</summary>
internal sealed record ChannelDto(
    string Id, string Name, string Kind, bool Enabled, IReadOnlyList<string>? Events, bool FromEnvironment,
    EmailChannelView? Email, WebhookChannelView? Webhook, NtfyChannelView? Ntfy, DateTimeOffset? CreatedAt, DateTimeOffset? UpdatedAt);

internal sealed record TestResultDto(bool Success, string? Error, string DeliveryId);

/// <summary>Where and how to send: a channel resolved with its secret, for the dispatcher only.</summary>
internal sealed record ChannelTarget(string Id, string Kind, EmailSettings? Email, WebhookSettings? Webhook, NtfySettings? Ntfy);

internal enum ChannelError { None, NotFound, ReadOnly, Invalid, Conflict }

internal readonly record struct ChannelResult<T>(T? Value, ChannelError Error = ChannelError.None, string? Field = null, string? Message = null)
{
    public static ChannelResult<T> Fail(ChannelError error, string? field = null, string? message = null) => new(default, error, field, message);
}

/// <summary>Notification channels: the ones in the database (admin API) plus the default e-mail channel from SMTP_*.</summary>
internal sealed class ChannelService(
    TiakiDbContext db,
    ChannelSenders senders,
    AuditLog audit,
    TimeProvider time,
    IOptions<NotificationOptions> options)
{
    /// <summary>Id of the channel built from SMTP_* (not stored, not editable through the API).</summary>
    public const string EnvironmentChannelId = "env-smtp";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public async Task<IReadOnlyList<ChannelDto>> ListAsync(CancellationToken ct)
    {
        var rows = await db.NotificationChannels.AsNoTracking().OrderBy(c => c.Name).ToListAsync(ct);
        var list = new List<ChannelDto>();
        if (EnvironmentChannel() is { } env)
        {
            list.Add(env);
        }

        list.AddRange(rows.Select(ToDto));
        return list;
    }

    public async Task<ChannelDto?> GetAsync(string id, CancellationToken ct) =>
        id == EnvironmentChannelId
            ? EnvironmentChannel()
            : await db.NotificationChannels.AsNoTracking().FirstOrDefaultAsync(c => c.Id == id, ct) is { } row ? ToDto(row) : null;

    public async Task<ChannelResult<ChannelDto>> CreateAsync(ChannelRequest request, string actor, CancellationToken ct)
    {
        var row = new NotificationChannelEntity
        {
            Id = Guid.CreateVersion7().ToString("N"), Name = "", Kind = "", SettingsJson = "{}", CreatedAt = time.GetUtcNow(),
        };
        if (Apply(row, request) is { } bad)
        {
            return ChannelResult<ChannelDto>.Fail(ChannelError.Invalid, bad.Field, bad.Error);
        }

        if (await db.NotificationChannels.AnyAsync(c => c.Name == row.Name, ct))
        {
            return ChannelResult<ChannelDto>.Fail(ChannelError.Conflict, message: $"A channel named '{row.Name}' already exists.");
        }

        db.NotificationChannels.Add(row);
        audit.Add(actor, "notification-channel.created", row.Id, $"{row.Kind} '{row.Name}'");
        await db.SaveChangesAsync(ct);
        return new(ToDto(row));
    }

    public async Task<ChannelResult<ChannelDto>> UpdateAsync(string id, ChannelRequest request, string actor, CancellationToken ct)
    {
        if (id == EnvironmentChannelId)
        {
            return ChannelResult<ChannelDto>.Fail(ChannelError.ReadOnly, message: "The default e-mail channel comes from the SMTP_* settings; change them there.");
        }

        var row = await db.NotificationChannels.FirstOrDefaultAsync(c => c.Id == id, ct);
        if (row is null)
        {
            return ChannelResult<ChannelDto>.Fail(ChannelError.NotFound);
        }

        if (!string.Equals(row.Kind, request.Kind, StringComparison.Ordinal))
        {
            return ChannelResult<ChannelDto>.Fail(ChannelError.Invalid, "kind", "cannot change; create a new channel instead");
        }

        if (Apply(row, request) is { } bad)
        {
            return ChannelResult<ChannelDto>.Fail(ChannelError.Invalid, bad.Field, bad.Error);
        }

        if (await db.NotificationChannels.AnyAsync(c => c.Name == row.Name && c.Id != id, ct))
        {
            return ChannelResult<ChannelDto>.Fail(ChannelError.Conflict, message: $"A channel named '{row.Name}' already exists.");
        }

        audit.Add(actor, "notification-channel.updated", row.Id, $"{row.Kind} '{row.Name}'");
        await db.SaveChangesAsync(ct);
        return new(ToDto(row));
    }

    public async Task<ChannelError> DeleteAsync(string id, string actor, CancellationToken ct)
    {
        if (id == EnvironmentChannelId)
        {
            return ChannelError.ReadOnly;
        }

        var row = await db.NotificationChannels.FirstOrDefaultAsync(c => c.Id == id, ct);
        if (row is null)
        {
            return ChannelError.NotFound;
        }

        db.NotificationChannels.Remove(row);
        audit.Add(actor, "notification-channel.deleted", row.Id, $"{row.Kind} '{row.Name}'");
        await db.SaveChangesAsync(ct);
        return ChannelError.None;
    }

    /// <summary>Sends a test message now and records it as a delivery with one attempt, so it shows in the history too.</summary>
    public async Task<ChannelResult<TestResultDto>> TestAsync(string id, string actor, CancellationToken ct)
    {
        if (await ResolveAsync(id, ct) is not { } target)
        {
            return ChannelResult<TestResultDto>.Fail(ChannelError.NotFound);
        }

        var now = time.GetUtcNow();
        var notification = new Notification(NotificationEvents.Test, "Tiaki test message",
            $"This is a test message from Tiaki, sent at {now:yyyy-MM-dd HH:mm} UTC. If you can read it, the channel works.",
            options.Value.LinkTo("settings"));
        var outcome = await senders.SendAsync(target, notification, ct);
        var delivery = new NotificationDeliveryEntity
        {
            Id = Guid.CreateVersion7().ToString("N"), ChannelId = id, Event = notification.Event, Title = notification.Title,
            Body = notification.Body, Link = notification.Link, Status = outcome.Success ? DeliveryStatuses.Sent : DeliveryStatuses.Failed,
            Attempts = 1, CreatedAt = now, NextAttemptAt = now, SentAt = outcome.Success ? now : null, LastError = outcome.Error,
        };
        db.NotificationDeliveries.Add(delivery);
        db.NotificationAttempts.Add(new NotificationAttemptEntity { DeliveryId = delivery.Id, At = now, Success = outcome.Success, Error = outcome.Error });
        audit.Add(actor, "notification-channel.tested", id, outcome.Success ? "sent" : outcome.Error);
        await db.SaveChangesAsync(ct);
        return new(new TestResultDto(outcome.Success, outcome.Error, delivery.Id));
    }

    /// <summary>Ids of the enabled channels that want this event.</summary>
    public async Task<IReadOnlyList<string>> SubscribersAsync(string eventName, CancellationToken ct)
    {
        var ids = new List<string>();
        if (options.Value.DefaultEmail is not null)
        {
            ids.Add(EnvironmentChannelId);
        }

        var rows = await db.NotificationChannels.AsNoTracking().Where(c => c.Enabled).Select(c => new { c.Id, c.Events }).ToListAsync(ct);
        ids.AddRange(rows.Where(r => r.Events is null || ParseEvents(r.Events).Contains(eventName)).Select(r => r.Id));
        return ids;
    }

    public async Task<ChannelTarget?> ResolveAsync(string id, CancellationToken ct)
    {
        if (id == EnvironmentChannelId)
        {
            return options.Value.DefaultEmail is { } e ? new ChannelTarget(id, ChannelKinds.Email, e, null, null) : null;
        }

        var row = await db.NotificationChannels.AsNoTracking().FirstOrDefaultAsync(c => c.Id == id, ct);
        if (row is null)
        {
            return null;
        }

        switch (row.Kind)
        {
            case ChannelKinds.Email:
                var e = JsonSerializer.Deserialize<EmailChannelSettings>(row.SettingsJson, Json)!;
                return new ChannelTarget(id, row.Kind, new EmailSettings(e.Host!, PortOf(e), ParseSecurity(e.Security) ?? SmtpSecurity.Auto,
                    e.User, row.Secret, e.From!, e.To ?? []), null, null);
            case ChannelKinds.Webhook:
                var w = JsonSerializer.Deserialize<WebhookChannelSettings>(row.SettingsJson, Json)!;
                return new ChannelTarget(id, row.Kind, null, new WebhookSettings(new Uri(w.Url!), row.Secret), null);
            default:
                var n = JsonSerializer.Deserialize<NtfyChannelSettings>(row.SettingsJson, Json)!;
                return new ChannelTarget(id, row.Kind, null, null, new NtfySettings(new Uri(n.Server!), n.Topic!, row.Secret, n.Priority));
        }
    }

    private ChannelDto? EnvironmentChannel() => options.Value.DefaultEmail is { } e
        ? new ChannelDto(EnvironmentChannelId, "Default e-mail (SMTP_*)", ChannelKinds.Email, true, null, true,
            new EmailChannelView(e.Host, e.Port, e.Security.ToString().ToLowerInvariant(), e.User, !string.IsNullOrEmpty(e.Password), e.From, e.To),
            null, null, null, null)
        : null;

    private static ChannelDto ToDto(NotificationChannelEntity row)
    {
        var hasSecret = !string.IsNullOrEmpty(row.Secret);
        EmailChannelView? email = null;
        WebhookChannelView? webhook = null;
        NtfyChannelView? ntfy = null;
        switch (row.Kind)
        {
            case ChannelKinds.Email:
                var e = JsonSerializer.Deserialize<EmailChannelSettings>(row.SettingsJson, Json)!;
                email = new EmailChannelView(e.Host!, PortOf(e), e.Security ?? "auto", e.User, hasSecret, e.From!, e.To ?? []);
                break;
            case ChannelKinds.Webhook:
                var w = JsonSerializer.Deserialize<WebhookChannelSettings>(row.SettingsJson, Json)!;
                webhook = new WebhookChannelView(w.Url!, hasSecret);
                break;
            default:
                var n = JsonSerializer.Deserialize<NtfyChannelSettings>(row.SettingsJson, Json)!;
                ntfy = new NtfyChannelView(n.Server!, n.Topic!, n.Priority, hasSecret);
                break;
        }

        return new ChannelDto(row.Id, row.Name, row.Kind, row.Enabled, row.Events is null ? null : ParseEvents(row.Events),
            false, email, webhook, ntfy, row.CreatedAt, row.UpdatedAt);
    }

    /// <summary>Without a port: 465 for TLS from the first byte, else the submission port 587.</summary>
    private static int PortOf(EmailChannelSettings e) => e.Port ?? (ParseSecurity(e.Security) == SmtpSecurity.Tls ? 465 : 587);

    private static string[] ParseEvents(string events) => events.Split(',', StringSplitOptions.RemoveEmptyEntries);

    private static SmtpSecurity? ParseSecurity(string? value) => value?.ToLowerInvariant() switch
    {
        null or "auto" => SmtpSecurity.Auto,
        "tls" => SmtpSecurity.Tls,
        "starttls" => SmtpSecurity.StartTls,
        "none" => SmtpSecurity.None,
        _ => null,
    };

    /// <summary>Validates the request and copies it onto the row; returns the first bad field.</summary>
    private (string Field, string Error)? Apply(NotificationChannelEntity row, ChannelRequest r)
    {
        if (string.IsNullOrWhiteSpace(r.Name) || r.Name.Length > 200)
        {
            return ("name", "must be 1 to 200 characters");
        }

        if (!ChannelKinds.All.Contains(r.Kind))
        {
            return ("kind", $"must be one of {string.Join(", ", ChannelKinds.All)}");
        }

        if (r.Events is { } events)
        {
            for (var i = 0; i < events.Count; i++)
            {
                if (!NotificationEvents.Subscribable.Contains(events[i]))
                {
                    return ($"events[{i}]", $"must be one of {string.Join(", ", NotificationEvents.Subscribable)}");
                }
            }
        }

        string? secret; // null: keep the stored one
        string settings;
        switch (r.Kind)
        {
            case ChannelKinds.Email:
                if (r.Email is not { } e)
                {
                    return ("email", "required for an email channel");
                }

                if (string.IsNullOrWhiteSpace(e.Host))
                {
                    return ("email.host", "required");
                }

                if (e.Port is < 1 or > 65535)
                {
                    return ("email.port", "must be from 1 to 65535");
                }

                if (ParseSecurity(e.Security) is null)
                {
                    return ("email.security", "must be one of auto, tls, starttls, none");
                }

                if (!Addresses.IsValid(e.From))
                {
                    return ("email.from", "must be an e-mail address");
                }

                if (e.To is not { Count: > 0 })
                {
                    return ("email.to", "must list at least one recipient");
                }

                for (var i = 0; i < e.To.Count; i++)
                {
                    if (!Addresses.IsValid(e.To[i]))
                    {
                        return ($"email.to[{i}]", "must be an e-mail address");
                    }
                }

                if (e.Password is { Length: > 0 } && string.IsNullOrEmpty(e.User))
                {
                    return ("email.user", "required when a password is set");
                }

                secret = e.Password;
                settings = JsonSerializer.Serialize(e with { Password = null, Security = e.Security?.ToLowerInvariant() }, Json);
                break;
            case ChannelKinds.Webhook:
                if (r.Webhook is not { } w)
                {
                    return ("webhook", "required for a webhook channel");
                }

                if (!Uri.TryCreate(w.Url, UriKind.Absolute, out var wu) || wu.Scheme is not ("http" or "https"))
                {
                    return ("webhook.url", "must be an absolute http(s) URL");
                }

                secret = w.Secret;
                settings = JsonSerializer.Serialize(w with { Secret = null }, Json);
                break;
            default:
                if (r.Ntfy is not { } n)
                {
                    return ("ntfy", "required for an ntfy channel");
                }

                if (!Uri.TryCreate(n.Server ?? "https://ntfy.sh/", UriKind.Absolute, out var nu) || nu.Scheme is not ("http" or "https"))
                {
                    return ("ntfy.server", "must be an absolute http(s) URL");
                }

                if (string.IsNullOrWhiteSpace(n.Topic) || n.Topic.Length > 64 || n.Topic.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
                {
                    return ("ntfy.topic", "must be 1 to 64 letters, digits, '-' or '_'");
                }

                if (n.Priority is < 1 or > 5)
                {
                    return ("ntfy.priority", "must be from 1 to 5");
                }

                secret = n.Token;
                var server = nu.ToString().EndsWith('/') ? nu.ToString() : nu + "/";
                settings = JsonSerializer.Serialize(n with { Token = null, Server = server }, Json);
                break;
        }

        row.Name = r.Name.Trim();
        row.Kind = r.Kind;
        row.Enabled = r.Enabled ?? row.Enabled;
        row.Events = r.Events is null ? null : string.Join(',', r.Events.Distinct());
        row.SettingsJson = settings;
        if (secret is not null)
        {
            row.Secret = secret.Length == 0 ? null : secret;
        }

        row.UpdatedAt = time.GetUtcNow();
        return null;
    }
}

/// <summary>Sends one notification over a resolved channel with the lead's senders.</summary>
internal sealed class ChannelSenders(EmailSender email, IHttpClientFactory http, TimeProvider time)
{
    public const string HttpClientName = "notifications";

    public Task<DeliveryOutcome> SendAsync(ChannelTarget target, Notification notification, CancellationToken ct) => target.Kind switch
    {
        ChannelKinds.Email => email.SendAsync(target.Email!, notification, ct),
        ChannelKinds.Webhook => new WebhookSender(http.CreateClient(HttpClientName), time).SendAsync(target.Webhook!, notification, ct),
        _ => new NtfySender(http.CreateClient(HttpClientName)).SendAsync(target.Ntfy!, notification, ct),
    };
}
