using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using MimeKit;
using Tiaki.Server.Features.Notifications.Channels;

namespace Tiaki.Server.Tests.Notifications;

public sealed class EmailSenderTests
{
    private static readonly Notification Deployed = new("deploy.succeeded", "Deployed web 1.0.1 on host-a",
        "host-a: web updated 1.0.0 → 1.0.1", "http://tiaki.local/updates/42");

    [Fact]
    public async Task SendAsync_RealSmtpServer_MessageArrivesWithSubjectRecipientsAndLink()
    {
        var (host, port) = SplitHostPort(TestEnvironment.Require("TIAKI_TEST_SMTP"));
        var maildir = TestEnvironment.Require("TIAKI_TEST_MAILDIR");
        var marker = Guid.NewGuid().ToString("N");
        var settings = new EmailSettings(host, port, SmtpSecurity.None, null, null, "tiaki@example.org",
            ["ops@example.org", "dev@example.org"]);

        var outcome = await new EmailSender(TimeProvider.System).SendAsync(settings, Deployed with { Title = Deployed.Title + " " + marker }, default);

        outcome.ShouldBe(DeliveryOutcome.Sent);
        var message = await WaitForMessageAsync(maildir, marker);
        message.From.Mailboxes.Single().Address.ShouldBe("tiaki@example.org");
        message.To.Mailboxes.Select(m => m.Address).ShouldBe(["ops@example.org", "dev@example.org"]);
        message.TextBody.ShouldNotBeNull().ShouldContain("web updated 1.0.0 → 1.0.1");
        message.TextBody.ShouldNotBeNull().ShouldContain("http://tiaki.local/updates/42");
        message.Headers["X-Tiaki-Event"].ShouldBe("deploy.succeeded");
    }

    [Fact]
    public async Task SendAsync_WrongPassword_FailsWithServerReasonAndNoPassword()
    {
        var port = TestEnvironment.FreePort();
        var maildir = Path.Combine(Path.GetTempPath(), $"tiaki-auth-{Guid.NewGuid():N}");
        using var server = await StartAuthSmtpAsync(port, "mailer", "right-password", maildir);
        var sender = new EmailSender(new FakeTimeProvider(DateTimeOffset.Parse("2026-12-01T10:00:00Z")));
        var wrong = new EmailSettings("127.0.0.1", port, SmtpSecurity.None, "mailer", "wrong-password-123", "t@example.org", ["o@example.org"]);
        var right = wrong with { Password = "right-password" };

        var failed = await sender.SendAsync(wrong, Deployed, default);
        var sent = await sender.SendAsync(right, Deployed, default);

        failed.Success.ShouldBeFalse();
        failed.Error.ShouldNotBeNull().ShouldContain("535");
        failed.Error.ShouldNotContain("wrong-password-123");
        sent.ShouldBe(DeliveryOutcome.Sent);
        (await WaitForMessageAsync(maildir, Deployed.Title)).Subject.ShouldBe(Deployed.Title);
    }

    [Fact]
    public async Task SendAsync_NothingListening_FailsWithoutThrowing()
    {
        var settings = new EmailSettings("127.0.0.1", TestEnvironment.FreePort(), SmtpSecurity.None, null, null, "t@example.org", ["o@example.org"]);

        var outcome = await new EmailSender(TimeProvider.System).SendAsync(settings, Deployed, default);

        outcome.Success.ShouldBeFalse();
        outcome.Error.ShouldNotBeNull().ShouldStartWith("SMTP 127.0.0.1:");
    }

    [Fact]
    public async Task SendAsync_InvalidRecipient_FailsWithReason()
    {
        var settings = new EmailSettings("127.0.0.1", 25, SmtpSecurity.None, null, null, "t@example.org", ["not an address"]);

        var outcome = await new EmailSender(TimeProvider.System).SendAsync(settings, Deployed, default);

        outcome.Success.ShouldBeFalse();
        outcome.Error.ShouldNotBeNull().ShouldContain("invalid address");
    }

    internal static (string Host, int Port) SplitHostPort(string value)
    {
        var colon = value.LastIndexOf(':');
        return (value[..colon], int.Parse(value[(colon + 1)..]));
    }

    /// <summary>aiosmtpd's Mailbox handler delivers into a Maildir: one file per message under new/.</summary>
    internal static async Task<MimeMessage> WaitForMessageAsync(string maildir, string marker)
    {
        for (var i = 0; i < 100; i++)
        {
            var files = Directory.Exists(maildir)
                ? Directory.EnumerateFiles(Path.Combine(maildir, "new")).Concat(Directory.EnumerateFiles(Path.Combine(maildir, "cur")))
                : [];
            foreach (var file in files)
            {
                var message = await MimeMessage.LoadAsync(file);
                if (message.Subject?.Contains(marker, StringComparison.Ordinal) == true)
                    return message;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"no message with '{marker}' arrived in {maildir}");
    }

    internal sealed class ChildProcess(Process process) : IDisposable
    {
        public void Dispose()
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.Dispose();
        }
    }

    internal static async Task<ChildProcess> StartAuthSmtpAsync(int port, string user, string password, string maildir)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "Notifications", "smtp_auth_server.py");
        var process = Process.Start(new ProcessStartInfo("/usr/bin/python3", [script, port.ToString(), user, password, maildir])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var ready = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
        if (ready != "ready")
            throw new InvalidOperationException("SMTP auth server did not start: " + await process.StandardError.ReadToEndAsync());
        return new ChildProcess(process);
    }
}
