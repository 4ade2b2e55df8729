using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Tiaki.Contracts;
using Tiaki.Server.Tests.Api;

namespace Tiaki.Server.Tests.Notifications;

/// <summary>Failing channels are logged with their reason, never with their password, secret or token.</summary>
public sealed class NotificationLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tiaki-notify-logs-").FullName;

    [Fact]
    public async Task FailingChannels_LoggedWithReason_NoSecretInAnyLogLine()
    {
        var port = TestEnvironment.FreePort();
        using var smtp = await EmailSenderTests.StartAuthSmtpAsync(port, "mailer", "right-password", Path.Combine(_dir, "mail"));
        var capture = new CapturingLoggerProvider();
        var settings = new Dictionary<string, string?>
        {
            ["ADMIN_TOKEN"] = ServerFixture.AdminToken,
            ["TIAKI_DATA_DIR"] = _dir,
            ["RUN_SCHEDULER"] = "false",
            ["PORT"] = "0",
            // The default channel logs in with a wrong password too.
            ["SMTP_HOST"] = "127.0.0.1", ["SMTP_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SMTP_SECURE"] = "none", ["SMTP_USER"] = "mailer", ["SMTP_PASS"] = "env-pass-q7w1",
            ["SMTP_FROM"] = "t@example.org", ["SMTP_TO"] = "o@example.org",
        };
        await using var baseFactory = new TiakiFactory(settings, new FakeTimeProvider(DateTimeOffset.UtcNow));
        await using var factory = baseFactory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(capture)));
        var admin = factory.CreateClient();
        var login = await (await admin.PostAsJsonAsync("/api/v1/auth/login", new { token = ServerFixture.AdminToken })).JsonAsync();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", login.GetProperty("accessToken").GetString());
        await admin.CreateAsync("/api/v1/admin/notifications/channels", new
        {
            name = "mail", kind = "email",
            email = new { host = "127.0.0.1", port, security = "none", user = "mailer", password = "db-pass-q7w2", from = "t@example.org", to = new[] { "o@example.org" } },
        });
        await admin.CreateAsync("/api/v1/admin/notifications/channels", new
        {
            name = "hook", kind = "webhook", webhook = new { url = $"http://127.0.0.1:{TestEnvironment.FreePort()}/hook/path-q7w6?token=url-q7w3", secret = "hmac-q7w4" },
        });
        await admin.CreateAsync("/api/v1/admin/notifications/channels", new
        {
            name = "ntfy", kind = "ntfy", ntfy = new { server = $"http://127.0.0.1:{TestEnvironment.FreePort()}", topic = "t", token = "tk-q7w5" },
        });
        var created = await admin.PostAsJsonAsync("/api/v1/admin/agents", new { name = "logged", type = "vm" });
        var key = (await created.Content.ReadFromJsonAsync<RegisterAgentResponse>())!.ApiKey;
        var agent = factory.CreateClient();
        agent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        (await agent.SubmitAsync([Http.Container("web")], [Http.Update("web")])).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        await Eventually.UntilAsync(async () =>
            (await admin.GetJsonAsync("/api/v1/admin/notifications/deliveries")).EnumerateArray()
                .Count(d => d.GetProperty("attempts").GetInt32() >= 1 && d.GetProperty("status").GetString() != "sending") == 4 ? "" : null,
            "a failed attempt on all four channels");
        var log = string.Join('\n', capture.Lines);
        log.ShouldContain("failed on attempt 1"); // the failures are logged ...
        log.ShouldContain("535");
        foreach (var secret in new[] { "env-pass-q7w1", "db-pass-q7w2", "url-q7w3", "hmac-q7w4", "tk-q7w5", "path-q7w6" })
        {
            log.ShouldNotContain(secret); // ... without what would let a reader of the logs in
        }

        var api = JsonSerializer.Serialize(await admin.GetJsonAsync("/api/v1/admin/notifications/deliveries"));
        api.ShouldNotContain("q7w");
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

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Lines.Enqueue($"{logLevel} {formatter(state, exception)} {exception}");
        }
    }
}
