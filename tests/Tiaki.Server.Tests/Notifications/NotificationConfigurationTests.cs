using Microsoft.Extensions.Time.Testing;
using Tiaki.Server.Tests.Api;

namespace Tiaki.Server.Tests.Notifications;

/// <summary>SMTP_* and the other notification settings are checked at start, every bad key named at once.</summary>
public sealed class NotificationConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tiaki-notify-config-").FullName;

    [Fact]
    public void Start_WithBadSmtpSettings_FailsNamingEveryBadKeyWithoutThePassword()
    {
        using var factory = new TiakiFactory(new Dictionary<string, string?>
        {
            ["TIAKI_DATA_DIR"] = _dir,
            ["SMTP_HOST"] = "smtp.example.org",
            ["SMTP_PORT"] = "smtp",
            ["SMTP_SECURE"] = "maybe",
            ["SMTP_PASS"] = "hunter2mailpass",
            ["SMTP_FROM"] = "not-an-address",
            ["SMTP_TO"] = "ops@example.org, nobody",
            ["TIAKI_PUBLIC_URL"] = "tiaki.local",
            ["NOTIFY_MAX_ATTEMPTS"] = "0",
        }, new FakeTimeProvider());

        var ex = Should.Throw<Exception>(() => _ = factory.Server);

        var message = ex.ToString();
        foreach (var key in new[] { "SMTP_PORT", "SMTP_SECURE", "SMTP_USER", "SMTP_FROM", "SMTP_TO", "TIAKI_PUBLIC_URL", "NOTIFY_MAX_ATTEMPTS" })
        {
            message.ShouldContain(key + ":");
        }

        message.ShouldContain("'nobody'");
        message.ShouldNotContain("hunter2mailpass");
    }

    [Fact]
    public void Start_WithSmtpRecipientsButNoHost_FailsNamingSmtpHost()
    {
        using var factory = new TiakiFactory(new Dictionary<string, string?>
        {
            ["TIAKI_DATA_DIR"] = _dir,
            ["SMTP_TO"] = "ops@example.org",
        }, new FakeTimeProvider());

        var ex = Should.Throw<Exception>(() => _ = factory.Server);

        ex.ToString().ShouldContain("SMTP_HOST: required when SMTP_TO is set");
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
