using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Tiaki.Server.Tests.Api;

namespace Tiaki.Server.Tests.Notifications;

/// <summary>Servers with the default e-mail channel on the real SMTP sink, a public URL and a 1-minute policy evaluator.</summary>
internal static class NotifySettings
{
    public const string PublicUrl = "https://tiaki.example.org";
    public static readonly string[] Recipients = ["ops@example.org", "oncall@example.org"];

    public static Dictionary<string, string?> Add(Dictionary<string, string?> s)
    {
        var (host, port) = EmailSenderTests.SplitHostPort(TestEnvironment.Require("TIAKI_TEST_SMTP"));
        s["SMTP_HOST"] = host;
        s["SMTP_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        s["SMTP_SECURE"] = "none";
        s["SMTP_FROM"] = "tiaki@example.org";
        s["SMTP_TO"] = string.Join(", ", Recipients);
        s["TIAKI_PUBLIC_URL"] = PublicUrl;
        s["POLICY_EVALUATION_SECONDS"] = "60";
        s["NOTIFY_RETRY_SECONDS"] = "30";
        return s;
    }
}

public sealed class NotifySqliteFixture : SqliteFixture
{
    protected override Dictionary<string, string?> Settings() => NotifySettings.Add(base.Settings());
}

public sealed class NotifyPostgresFixture : PostgresFixture
{
    protected override Dictionary<string, string?> Settings() => NotifySettings.Add(base.Settings());
}

/// <summary>A real HTTP server on loopback recording what webhooks and ntfy publishes deliver.</summary>
public sealed class LoopbackReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LoopbackReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<(string Path, IHeaderDictionary Headers, byte[] Body)> Received { get; } = new();

    public Uri BaseUri => new(_app.Urls.Single() + "/");

    public static async Task<LoopbackReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new LoopbackReceiver(app);
        app.Run(async context =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            receiver.Received.Enqueue((context.Request.Path, new HeaderDictionary(context.Request.Headers.ToDictionary()), buffer.ToArray()));
            context.Response.StatusCode = 200;
        });
        await app.StartAsync();
        return receiver;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

internal static class Eventually
{
    private sealed record Box<T>(T Value);

    /// <summary>
    /// Waits (real time, bounded) for background work — the dispatcher, the evaluator — to make <paramref name="check"/> true.
    /// With <paramref name="advance"/>, the fake clock moves that much between looks so their timers fire.
    /// </summary>
    public static async Task<T> UntilValueAsync<T>(Func<Task<T?>> check, string what, ServerFixture? f = null, TimeSpan? advance = null)
        where T : struct =>
        (await UntilAsync(async () => await check() is { } v ? new Box<T>(v) : null, what, f, advance)).Value;

    public static async Task<T> UntilAsync<T>(Func<Task<T?>> check, string what, ServerFixture? f = null, TimeSpan? advance = null)
        where T : class
    {
        for (var i = 0; i < 200; i++)
        {
            if (await check() is { } value)
            {
                return value;
            }

            if (advance is { } step)
            {
                f!.Time.Advance(step);
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"gave up waiting for {what}");
    }

    public static async Task<JsonElement[]> DeliveriesAsync(this HttpClient admin, string query = "") =>
        (await admin.GetJsonAsync($"/api/v1/admin/notifications/deliveries?limit=1000{query}")).EnumerateArray().ToArray();

    /// <summary>Moves the clock to <paramref name="at"/> and waits until the policy evaluator has run at or after it.</summary>
    public static async Task EvaluateAtAsync(ServerFixture f, HttpClient admin, DateTimeOffset at)
    {
        if (f.Time.GetUtcNow() < at)
        {
            f.Time.Advance(at - f.Time.GetUtcNow());
        }

        await UntilAsync<object>(async () =>
        {
            var s = await admin.GetJsonAsync("/api/v1/admin/policies/evaluation");
            return s.GetProperty("lastRunAt").ValueKind != JsonValueKind.Null && s.GetProperty("lastRunAt").GetDateTimeOffset() >= at ? new object() : null;
        }, "a policy evaluation pass", f, TimeSpan.FromSeconds(61));
    }

    public static async Task<string> CreateAsync(this HttpClient admin, string url, object body)
    {
        var res = await admin.PostAsJsonAsync(url, body);
        res.StatusCode.ShouldBe(System.Net.HttpStatusCode.Created, await res.Content.ReadAsStringAsync());
        return (await res.JsonAsync()).GetProperty("id").GetString()!;
    }
}
