using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tiaki.Contracts;
using Tiaki.Server.Tests.Api;

namespace Tiaki.Server.Tests.Notifications;

public sealed class NotificationApiTests_Sqlite(NotifySqliteFixture f) : NotificationApiTests(f), IClassFixture<NotifySqliteFixture>;

public sealed class NotificationApiTests_Postgres(NotifyPostgresFixture f) : NotificationApiTests(f), IClassFixture<NotifyPostgresFixture>;

/// <summary>Channels, events, the outbox and its retries, end to end through HTTP on each database.</summary>
public abstract class NotificationApiTests(ServerFixture f)
{
    private const string Channels = "/api/v1/admin/notifications/channels";

    private static string Marker() => Guid.NewGuid().ToString("N")[..10];

    /// <summary>An agent with one container "web" and an update 1.0.0 → 1.1.0, deployed through the admin API.</summary>
    private async Task<(string AgentId, HttpClient Agent, string UpdateId, AgentCommand Command)> DeployWebAsync(string agentName)
    {
        var (agentId, _, agent) = await f.NewAgentAsync(agentName);
        var admin = await f.AdminAsync();
        (await agent.SubmitAsync([Http.Container("web", image: "notify/web")], [Http.Update("web")])).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        var update = (await admin.FindUpdateAsync(agentId, "web"))!.Value;
        var updateId = update.GetProperty("id").GetString()!;
        (await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var command = (await agent.PollAsync()).Single();
        return (agentId, agent, updateId, command);
    }

    [Fact]
    public async Task Channels_CreateUpdateRead_SecretsNeverInResponses()
    {
        var admin = await f.AdminAsync();
        var m = Marker();
        var hook = await admin.PostAsJsonAsync(Channels, new { name = $"hook-{m}", kind = "webhook", webhook = new { url = "http://127.0.0.1:9/hook", secret = "whsec-zq9x1" } });
        var mail = await admin.PostAsJsonAsync(Channels, new
        {
            name = $"mail-{m}", kind = "email", events = new[] { "deploy.failed" },
            email = new { host = "smtp.example.org", port = 587, user = "u", password = "smtp-zq9x2", from = "t@example.org", to = new[] { "a@example.org" } },
        });
        var ntfy = await admin.PostAsJsonAsync(Channels, new { name = $"ntfy-{m}", kind = "ntfy", ntfy = new { server = "http://127.0.0.1:9", topic = "alerts", token = "tk-zq9x3" } });

        foreach (var res in new[] { hook, mail, ntfy })
        {
            res.StatusCode.ShouldBe(HttpStatusCode.Created);
            (await res.Content.ReadAsStringAsync()).ShouldNotContain("zq9x");
        }

        var list = await admin.GetAsync(Channels);
        var text = await list.Content.ReadAsStringAsync();
        text.ShouldNotContain("zq9x");
        var all = JsonDocument.Parse(text).RootElement.EnumerateArray().ToList();
        var env = all.Single(c => c.GetProperty("id").GetString() == "env-smtp");
        env.GetProperty("fromEnvironment").GetBoolean().ShouldBeTrue();
        env.GetProperty("email").GetProperty("to").EnumerateArray().Select(t => t.GetString()).ShouldBe(NotifySettings.Recipients);
        var hookDto = all.Single(c => c.GetProperty("name").GetString() == $"hook-{m}");
        hookDto.GetProperty("webhook").GetProperty("hasSecret").GetBoolean().ShouldBeTrue();
        all.Single(c => c.GetProperty("name").GetString() == $"mail-{m}").GetProperty("email").GetProperty("hasPassword").GetBoolean().ShouldBeTrue();
        all.Single(c => c.GetProperty("name").GetString() == $"ntfy-{m}").GetProperty("ntfy").GetProperty("hasToken").GetBoolean().ShouldBeTrue();

        // Omitting the secret keeps it; an empty one clears it.
        var id = hookDto.GetProperty("id").GetString();
        var kept = await admin.PutAsJsonAsync($"{Channels}/{id}", new { name = $"hook-{m}", kind = "webhook", webhook = new { url = "http://127.0.0.1:9/other" } });
        (await kept.JsonAsync()).GetProperty("webhook").GetProperty("hasSecret").GetBoolean().ShouldBeTrue();
        var cleared = await admin.PutAsJsonAsync($"{Channels}/{id}", new { name = $"hook-{m}", kind = "webhook", webhook = new { url = "http://127.0.0.1:9/other", secret = "" } });
        (await cleared.JsonAsync()).GetProperty("webhook").GetProperty("hasSecret").GetBoolean().ShouldBeFalse();
    }

    [Theory]
    [InlineData("{\"name\":\"x\",\"kind\":\"sms\"}", "kind")]
    [InlineData("{\"name\":\"x\",\"kind\":\"email\",\"email\":{\"host\":\"h\",\"from\":\"t@example.org\",\"to\":[\"not an address\"]}}", "email.to[0]")]
    [InlineData("{\"name\":\"x\",\"kind\":\"email\",\"email\":{\"host\":\"h\",\"from\":\"t@example.org\",\"to\":[]}}", "email.to")]
    [InlineData("{\"name\":\"x\",\"kind\":\"webhook\",\"webhook\":{\"url\":\"ftp://example.org/x\"}}", "webhook.url")]
    [InlineData("{\"name\":\"x\",\"kind\":\"ntfy\",\"ntfy\":{\"topic\":\"has space\"}}", "ntfy.topic")]
    [InlineData("{\"name\":\"x\",\"kind\":\"webhook\",\"events\":[\"nope\"],\"webhook\":{\"url\":\"http://h/\"}}", "events[0]")]
    [InlineData("{\"kind\":\"webhook\"}", "name")]
    public async Task Channels_InvalidBody_Returns400NamingField(string body, string field)
    {
        var admin = await f.AdminAsync();

        var res = await admin.PostAsync(Channels, new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await res.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
    }

    [Fact]
    public async Task Channels_EnvironmentChannel_CannotBeEditedOrDeleted()
    {
        var admin = await f.AdminAsync();

        await (await admin.DeleteAsync($"{Channels}/env-smtp")).ShouldBeProblemAsync(HttpStatusCode.Conflict);
        await (await admin.PutAsJsonAsync($"{Channels}/env-smtp", new { name = "x", kind = "email" })).ShouldBeProblemAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task UpdatesFound_ReportWithThreeUpdates_OneDigestPerChannelNamingEachContainer()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        var admin = await f.AdminAsync();
        var m = Marker();
        var channelId = await admin.CreateAsync(Channels, new
        {
            name = $"ntfy-digest-{m}", kind = "ntfy", events = new[] { "updates.found" },
            ntfy = new { server = receiver.BaseUri.ToString(), topic = $"t{m}" },
        });
        var (agentId, _, agent) = await f.NewAgentAsync($"host-{m}");
        ContainerReport[] containers = [Http.Container("api", image: "notify/api"), Http.Container("db", image: "notify/db"), Http.Container("web", image: "notify/web")];
        UpdateReport[] updates = [Http.Update("api"), Http.Update("db", latest: "1.0.1") with { Bump = "patch" }, Http.Update("web", latest: "2.0.0") with { Bump = "major" }];

        (await agent.SubmitAsync(containers, updates)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await agent.SubmitAsync(containers, updates)).StatusCode.ShouldBe(HttpStatusCode.NoContent); // the next scan finds nothing new

        (await admin.DeliveriesAsync($"&channelId={channelId}")).Length.ShouldBe(1);
        var (path, headers, body) = await Eventually.UntilValueAsync(() => Task.FromResult(receiver.Received.TryPeek(out var r) ? r : default((string, Microsoft.AspNetCore.Http.IHeaderDictionary, byte[])?)), "the ntfy publish");
        path.ShouldBe($"/t{m}");
        headers["Title"].ToString().ShouldBe($"3 updates available on host-{m}");
        headers["Click"].ToString().ShouldBe($"{NotifySettings.PublicUrl}/updates");
        var text = Encoding.UTF8.GetString(body);
        text.ShouldContain($"host-{m}: name-api (notify/api) 1.0.0 → 1.1.0");
        text.ShouldContain($"host-{m}: name-db (notify/db) 1.0.0 → 1.0.1 [patch]");
        text.ShouldContain($"host-{m}: name-web (notify/web) 1.0.0 → 2.0.0 [major]");
        var webUpdate = (await admin.FindUpdateAsync(agentId, "web"))!.Value.GetProperty("id").GetString();
        text.ShouldContain($"{NotifySettings.PublicUrl}/updates/{webUpdate}");
        await Eventually.UntilAsync(async () => (await admin.DeliveriesAsync($"&channelId={channelId}&status=sent")).Length == 1 ? "" : null, "the delivery marked sent");
        receiver.Received.Count.ShouldBe(1);
    }

    [Fact]
    public async Task DeploySucceeded_WebhookChannel_SignedPayloadNamesHostContainerTagsAndLink()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        var admin = await f.AdminAsync();
        var m = Marker();
        var channelId = await admin.CreateAsync(Channels, new
        {
            name = $"hook-deploy-{m}", kind = "webhook", events = new[] { "deploy.succeeded", "deploy.failed" },
            webhook = new { url = new Uri(receiver.BaseUri, "hook").ToString(), secret = "hook-secret" },
        });
        var (agentId, agent, updateId, command) = await DeployWebAsync($"host-{m}");

        (await agent.PostAsJsonAsync($"/api/v1/reports/commands/{command.CommandId}/result", new CommandResult(command.CommandId, true))).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        var (path, headers, body) = await Eventually.UntilValueAsync(() => Task.FromResult(receiver.Received.TryPeek(out var r) ? r : default((string, Microsoft.AspNetCore.Http.IHeaderDictionary, byte[])?)), "the webhook");
        path.ShouldBe("/hook");
        headers["X-Tiaki-Signature"].ToString().ShouldBe("sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData("hook-secret"u8, body)));
        var json = JsonDocument.Parse(body).RootElement;
        json.GetProperty("event").GetString().ShouldBe("deploy.succeeded");
        json.GetProperty("title").GetString().ShouldBe($"Deployed name-web 1.1.0 on host-{m}");
        json.GetProperty("body").GetString()!.ShouldContain($"host-{m}: name-web (notify/web) updated 1.0.0 → 1.1.0");
        json.GetProperty("link").GetString().ShouldBe($"{NotifySettings.PublicUrl}/updates/{updateId}");
        var data = json.GetProperty("data");
        data.GetProperty("host").GetString().ShouldBe($"host-{m}");
        data.GetProperty("agentId").GetString().ShouldBe(agentId);
        data.GetProperty("container").GetString().ShouldBe("name-web");
        data.GetProperty("currentTag").GetString().ShouldBe("1.0.0");
        data.GetProperty("latestTag").GetString().ShouldBe("1.1.0");

        var delivery = await Eventually.UntilValueAsync(async () => (await admin.DeliveriesAsync($"&channelId={channelId}&status=sent")).FirstOrDefault() is { ValueKind: JsonValueKind.Object } d ? (JsonElement?)d : null, "the delivery marked sent");
        delivery.GetProperty("attempts").GetInt32().ShouldBe(1);
        delivery.GetProperty("attemptLog").EnumerateArray().Single().GetProperty("success").GetBoolean().ShouldBeTrue();
    }

    [Fact]
    public async Task DeployFailed_DefaultEmailChannel_MessageArrivesThroughRealSmtpWithSubjectRecipientsAndContent()
    {
        var m = Marker();
        var (_, agent, updateId, command) = await DeployWebAsync($"host-{m}");

        (await agent.PostAsJsonAsync($"/api/v1/reports/commands/{command.CommandId}/result",
            new CommandResult(command.CommandId, false, "health check failed: exited with code 1; rolled back to 1.0.0"))).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        var mail = await EmailSenderTests.WaitForMessageAsync(TestEnvironment.Require("TIAKI_TEST_MAILDIR"), $"Deploy of name-web failed on host-{m}");
        mail.Subject.ShouldBe($"Deploy of name-web failed on host-{m}");
        mail.From.Mailboxes.Single().Address.ShouldBe("tiaki@example.org");
        mail.To.Mailboxes.Select(a => a.Address).ShouldBe(NotifySettings.Recipients);
        mail.Headers["X-Tiaki-Event"].ShouldBe("deploy.failed");
        var text = mail.TextBody.ShouldNotBeNull();
        text.ShouldContain($"host-{m}: name-web (notify/web) 1.0.0 → 1.1.0 failed: health check failed: exited with code 1; rolled back to 1.0.0");
        text.ShouldContain($"{NotifySettings.PublicUrl}/updates/{updateId}");
    }

    [Fact]
    public async Task EmailChannel_WrongPassword_AttemptRecordedAsFailedAndRetriedAfterBackoff()
    {
        var port = TestEnvironment.FreePort();
        var maildir = Path.Combine(Path.GetTempPath(), $"tiaki-notify-auth-{Guid.NewGuid():N}");
        using var smtp = await EmailSenderTests.StartAuthSmtpAsync(port, "mailer", "right-password", maildir);
        var admin = await f.AdminAsync();
        var m = Marker();
        object Body(string password) => new
        {
            name = $"auth-mail-{m}", kind = "email", events = new[] { "updates.found" },
            email = new { host = "127.0.0.1", port, security = "none", user = "mailer", password, from = "tiaki@example.org", to = new[] { "dev@example.org" } },
        };
        var channelId = await admin.CreateAsync(Channels, Body("wrong-password-XYZ"));
        var (_, _, agent) = await f.NewAgentAsync($"host-{m}");

        (await agent.SubmitAsync([Http.Container("web", image: "notify/web")], [Http.Update("web")])).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        var failed = await Eventually.UntilValueAsync(async () =>
            (await admin.DeliveriesAsync($"&channelId={channelId}")).SingleOrDefault() is { ValueKind: JsonValueKind.Object } d && d.GetProperty("attempts").GetInt32() == 1 &&
            d.GetProperty("status").GetString() == "pending" ? (JsonElement?)d : null, "the first, failed attempt");
        var attempt = failed.GetProperty("attemptLog").EnumerateArray().Single();
        attempt.GetProperty("success").GetBoolean().ShouldBeFalse();
        attempt.GetProperty("error").GetString()!.ShouldContain("535");
        failed.ToString().ShouldNotContain("wrong-password-XYZ");
        failed.GetProperty("nextAttemptAt").GetDateTimeOffset().ShouldBe(attempt.GetProperty("at").GetDateTimeOffset() + TimeSpan.FromSeconds(30));

        (await admin.PutAsJsonAsync($"{Channels}/{channelId}", Body("right-password"))).StatusCode.ShouldBe(HttpStatusCode.OK);

        var sent = await Eventually.UntilValueAsync(async () =>
            (await admin.DeliveriesAsync($"&channelId={channelId}&status=sent")).SingleOrDefault() is { ValueKind: JsonValueKind.Object } d ? (JsonElement?)d : null,
            "the retry", f, TimeSpan.FromSeconds(16));
        sent.GetProperty("attempts").GetInt32().ShouldBe(2);
        sent.GetProperty("attemptLog").EnumerateArray().Select(a => a.GetProperty("success").GetBoolean()).ShouldBe([false, true]);
        var mail = await EmailSenderTests.WaitForMessageAsync(maildir, $"host-{m}");
        mail.To.Mailboxes.Single().Address.ShouldBe("dev@example.org");
    }

    [Fact]
    public async Task TestMessage_ReachableAndUnreachableChannels_ReportsOutcomeAndRecordsIt()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        var admin = await f.AdminAsync();
        var m = Marker();
        var good = await admin.CreateAsync(Channels, new { name = $"ntfy-test-{m}", kind = "ntfy", ntfy = new { server = receiver.BaseUri.ToString(), topic = "test", priority = 2 } });
        var bad = await admin.CreateAsync(Channels, new { name = $"hook-test-{m}", kind = "webhook", webhook = new { url = $"http://127.0.0.1:{TestEnvironment.FreePort()}/x" } });

        var ok = await (await admin.PostAsync($"{Channels}/{good}/test", null)).JsonAsync();
        var ko = await (await admin.PostAsync($"{Channels}/{bad}/test", null)).JsonAsync();

        ok.GetProperty("success").GetBoolean().ShouldBeTrue();
        receiver.Received.Single().Headers["Title"].ToString().ShouldBe("Tiaki test message");
        ko.GetProperty("success").GetBoolean().ShouldBeFalse();
        ko.GetProperty("error").GetString()!.ShouldContain("127.0.0.1");
        (await admin.DeliveriesAsync($"&channelId={bad}")).Single().GetProperty("status").GetString().ShouldBe("failed");
        await (await admin.PostAsync($"{Channels}/nope/test", null)).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task AgentPresence_GoesOfflineAndComesBack_OneMessageEach()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        var admin = await f.AdminAsync();
        var m = Marker();
        await admin.CreateAsync(Channels, new
        {
            name = $"hook-presence-{m}", kind = "webhook", events = new[] { "agent.offline", "agent.online" },
            webhook = new { url = new Uri(receiver.BaseUri, "presence").ToString() },
        });
        var (_, _, agent) = await f.NewAgentAsync($"host-{m}");
        (await agent.PostAsync("/api/v1/agents/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        List<JsonElement> Mine() => receiver.Received.Select(r => JsonDocument.Parse(r.Body).RootElement)
            .Where(j => j.GetProperty("data").GetProperty("host").GetString() == $"host-{m}").ToList();

        // SCAN_INTERVAL is every 5 minutes in these tests: offline after 15.
        await Eventually.EvaluateAtAsync(f, admin, f.Time.GetUtcNow() + TimeSpan.FromMinutes(16));
        var offline = await Eventually.UntilValueAsync(() => Task.FromResult(Mine() is [var one] ? (JsonElement?)one : null), "the offline message");
        offline.GetProperty("event").GetString().ShouldBe("agent.offline");
        offline.GetProperty("title").GetString().ShouldBe($"Agent host-{m} is offline");

        await Eventually.EvaluateAtAsync(f, admin, f.Time.GetUtcNow() + TimeSpan.FromMinutes(2));
        (await agent.PostAsync("/api/v1/agents/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await Eventually.EvaluateAtAsync(f, admin, f.Time.GetUtcNow() + TimeSpan.FromMinutes(1));

        var both = await Eventually.UntilAsync(() => Task.FromResult(Mine() is { Count: 2 } l ? l : null), "the back-online message");
        both[1].GetProperty("event").GetString().ShouldBe("agent.online");
        both[1].GetProperty("title").GetString().ShouldBe($"Agent host-{m} is back online");
    }
}
