using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Tiaki.Server.Features.Notifications.Channels;

namespace Tiaki.Server.Tests.Notifications;

/// <summary>Webhook and ntfy channels against a real HTTP receiver on loopback.</summary>
public sealed class WebhookAndNtfySenderTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<(string Path, IHeaderDictionary Headers, byte[] Body)> _received = new();
    private WebApplication _receiver = null!;
    private Uri _base = null!;
    private int _status = 200;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _receiver = builder.Build();
        _receiver.Run(async context =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            _received.Enqueue((context.Request.Path, new HeaderDictionary(context.Request.Headers.ToDictionary()), buffer.ToArray()));
            context.Response.StatusCode = _status;
        });
        await _receiver.StartAsync();
        _base = new Uri(_receiver.Urls.Single() + "/");
    }

    public async Task DisposeAsync() => await _receiver.DisposeAsync();

    private static readonly Notification Failed = new("deploy.failed", "Deploy of web failed on host-a",
        "host-a: web 1.0.1 → 1.0.2 failed and was rolled back: exited with code 1", "http://tiaki.local/updates/7",
        new Dictionary<string, string> { ["host"] = "host-a", ["container"] = "web" });

    [Fact]
    public async Task Webhook_WithSecret_ReceiverVerifiesHmacOverExactBody()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-01T10:00:00Z"));
        using var http = new HttpClient();
        var sender = new WebhookSender(http, clock);

        var outcome = await sender.SendAsync(new WebhookSettings(new Uri(_base, "hook"), "s3cret"), Failed, default);

        outcome.ShouldBe(DeliveryOutcome.Sent);
        _received.TryDequeue(out var request).ShouldBeTrue();
        request.Path.ShouldBe("/hook");
        var expected = "sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData("s3cret"u8, request.Body));
        request.Headers[WebhookSender.SignatureHeader].ToString().ShouldBe(expected);
        request.Headers[WebhookSender.EventHeader].ToString().ShouldBe("deploy.failed");
        using var json = JsonDocument.Parse(request.Body);
        json.RootElement.GetProperty("event").GetString().ShouldBe("deploy.failed");
        json.RootElement.GetProperty("link").GetString().ShouldBe("http://tiaki.local/updates/7");
        json.RootElement.GetProperty("data").GetProperty("container").GetString().ShouldBe("web");
        json.RootElement.GetProperty("sentAt").GetDateTimeOffset().ShouldBe(clock.GetUtcNow());
    }

    [Fact]
    public async Task Webhook_WithoutSecret_SendsNoSignature()
    {
        using var http = new HttpClient();

        await new WebhookSender(http, TimeProvider.System).SendAsync(new WebhookSettings(new Uri(_base, "hook"), null), Failed, default);

        _received.TryDequeue(out var request).ShouldBeTrue();
        request.Headers.ContainsKey(WebhookSender.SignatureHeader).ShouldBeFalse();
    }

    [Fact]
    public async Task Webhook_ReceiverAnswers500_FailureCarriesStatus()
    {
        _status = 500;
        using var http = new HttpClient();

        var outcome = await new WebhookSender(http, TimeProvider.System).SendAsync(new WebhookSettings(new Uri(_base, "hook/T0/B0/path-secret?token=abc"), "k"), Failed, default);

        outcome.Success.ShouldBeFalse();
        outcome.Error.ShouldNotBeNull().ShouldContain("500");
        outcome.Error.ShouldNotContain("token=abc"); // query strings and paths (Slack, Discord) often carry secrets
        outcome.Error.ShouldNotContain("path-secret");
    }

    [Fact]
    public async Task Ntfy_PublishesToTopicWithTitleClickPriorityAndToken()
    {
        using var http = new HttpClient();
        var settings = new NtfySettings(_base, "tiaki-alerts", "tk_secret", 4);

        var outcome = await new NtfySender(http).SendAsync(settings, Failed with { Title = "Déploiement échoué" }, default);

        outcome.ShouldBe(DeliveryOutcome.Sent);
        _received.TryDequeue(out var request).ShouldBeTrue();
        request.Path.ShouldBe("/tiaki-alerts");
        Encoding.UTF8.GetString(request.Body).ShouldBe(Failed.Body);
        request.Headers["Click"].ToString().ShouldBe("http://tiaki.local/updates/7");
        request.Headers["Priority"].ToString().ShouldBe("4");
        request.Headers["Tags"].ToString().ShouldBe("warning");
        request.Headers.Authorization.ToString().ShouldBe("Bearer tk_secret");
        var title = request.Headers["Title"].ToString();
        title.ShouldStartWith("=?UTF-8?B?");
        Encoding.UTF8.GetString(Convert.FromBase64String(title[10..^2])).ShouldBe("Déploiement échoué");
    }
}
