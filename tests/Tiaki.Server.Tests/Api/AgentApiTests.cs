using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Tiaki.Contracts;

namespace Tiaki.Server.Tests.Api;

public sealed class AgentApiTests_Sqlite(SqliteFixture f) : AgentApiTests(f), IClassFixture<SqliteFixture>;

public sealed class AgentApiTests_Postgres(PostgresFixture f) : AgentApiTests(f), IClassFixture<PostgresFixture>;

/// <summary>The agent side of /api/v1, end to end through HTTP, on each database.</summary>
public abstract class AgentApiTests(ServerFixture f)
{
    private async Task<string> EnrollmentTokenAsync(object body)
    {
        var admin = await f.AdminAsync();
        var res = await admin.PostAsJsonAsync("/api/v1/admin/enrollment-tokens", body);
        res.StatusCode.ShouldBe(HttpStatusCode.Created);
        return (await res.JsonAsync()).GetProperty("token").GetString()!;
    }

    private async Task<HttpResponseMessage> RegisterAsync(string? token, object body)
    {
        var c = f.Anonymous();
        if (token is not null)
        {
            c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await c.PostAsJsonAsync("/api/v1/agents/register", body);
    }

    [Fact]
    public async Task Register_WithValidEnrollmentToken_Returns200AndAWorkingKey()
    {
        var token = await EnrollmentTokenAsync(new { expiresInMinutes = 30, uses = 3 });

        var res = await RegisterAsync(token, new { name = "edge-1", type = "vm", description = "rack 4" });

        res.StatusCode.ShouldBe(HttpStatusCode.OK);
        var created = (await res.Content.ReadFromJsonAsync<RegisterAgentResponse>())!;
        created.ApiKey.ShouldStartWith("tiaki_");
        var beat = await f.AgentClient(created.ApiKey).PostAsync("/api/v1/agents/heartbeat", null);
        beat.StatusCode.ShouldBe(HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Register_WithoutEnrollmentToken_Returns401()
    {
        var res = await RegisterAsync(null, new { name = "x", type = "vm" });
        await res.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Register_WithWrongEnrollmentToken_Returns401()
    {
        var real = await EnrollmentTokenAsync(new { });
        var forged = real[..^4] + (real.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA");

        (await RegisterAsync(forged, new { name = "x", type = "vm" })).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await RegisterAsync("tiaki_000000000000_notanenrollmenttoken", new { name = "x", type = "vm" })).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Register_WithExpiredEnrollmentToken_Returns401()
    {
        var token = await EnrollmentTokenAsync(new { expiresInMinutes = 1, uses = 5 });
        f.Time.Advance(TimeSpan.FromMinutes(2));

        (await RegisterAsync(token, new { name = "late", type = "vm" })).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Register_EnrollmentTokenUsedUp_Returns401()
    {
        var token = await EnrollmentTokenAsync(new { uses = 2 });

        (await RegisterAsync(token, new { name = "a", type = "vm" })).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await RegisterAsync(token, new { name = "b", type = "k8s" })).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await RegisterAsync(token, new { name = "c", type = "vm" })).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Register_BadType_Returns400NamingType()
    {
        var token = await EnrollmentTokenAsync(new { });
        var problem = await (await RegisterAsync(token, new { name = "a", type = "windows" })).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        problem.GetProperty("errors").TryGetProperty("type", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Heartbeat_WithoutOrWithBadKey_Returns401()
    {
        (await f.Anonymous().PostAsync("/api/v1/agents/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await f.AgentClient("tiaki_0123456789ab_wrongsecret").PostAsync("/api/v1/agents/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Heartbeat_MarksAgentOnline_UntilThreeScanIntervalsPass()
    {
        var (id, _, agent) = await f.NewAgentAsync("beating");
        var admin = await f.AdminAsync();
        (await admin.GetJsonAsync($"/api/v1/admin/agents/{id}")).GetProperty("online").GetBoolean().ShouldBeFalse();

        (await agent.PostAsync("/api/v1/agents/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        var seen = await admin.GetJsonAsync($"/api/v1/admin/agents/{id}");
        seen.GetProperty("online").GetBoolean().ShouldBeTrue();
        seen.GetProperty("lastSeenAt").GetDateTimeOffset().ShouldBe(f.Time.GetUtcNow(), TimeSpan.FromSeconds(1));

        // SCAN_INTERVAL is every 5 minutes in these tests: offline after 15.
        f.Time.Advance(TimeSpan.FromMinutes(14));
        (await admin.GetJsonAsync($"/api/v1/admin/agents/{id}")).GetProperty("online").GetBoolean().ShouldBeTrue();
        f.Time.Advance(TimeSpan.FromMinutes(2));
        (await admin.GetJsonAsync($"/api/v1/admin/agents/{id}")).GetProperty("online").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task Submit_FullState_RemovesContainersThatDisappeared()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        var admin = await f.AdminAsync();
        (await agent.SubmitAsync([Http.Container("a"), Http.Container("b"), Http.Container("c")], [Http.Update("b")])).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await admin.GetJsonAsync($"/api/v1/admin/containers?agentId={id}")).GetArrayLength().ShouldBe(3);

        (await agent.SubmitAsync([Http.Container("a", tag: "2.0.0"), Http.Container("c")], [])).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        var containers = await admin.GetJsonAsync($"/api/v1/admin/containers?agentId={id}");
        containers.EnumerateArray().Select(c => c.GetProperty("containerId").GetString()).Order().ShouldBe(["a", "c"]);
        containers.EnumerateArray().Single(c => c.GetProperty("containerId").GetString() == "a").GetProperty("tag").GetString().ShouldBe("2.0.0");
        (await admin.FindUpdateAsync(id, "b")).ShouldBeNull();
    }

    [Fact]
    public async Task Submit_UpdatesNullOrMissing_AcceptedAndKeepsKnownUpdates()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        var admin = await f.AdminAsync();
        (await agent.SubmitAsync([Http.Container("a")], [Http.Update("a")])).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        var withNull = await agent.PostAsync("/api/v1/reports/submit", JsonContent("""{"containers":[{"containerId":"a","name":"n","image":"i","tag":"1.0.0","digest":"sha256:aaa"}],"updates":null}"""));
        withNull.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        var missing = await agent.PostAsync("/api/v1/reports/submit", JsonContent("""{"containers":[{"containerId":"a","name":"n","image":"i","tag":"1.0.0","digest":"sha256:aaa"}]}"""));
        missing.StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await admin.FindUpdateAsync(id, "a"))!.Value.GetProperty("status").GetString().ShouldBe("pending");
    }

    [Fact]
    public async Task Submit_UpdateNoLongerOffered_PendingUpdateRemoved()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        var admin = await f.AdminAsync();
        await agent.SubmitAsync([Http.Container("a")], [Http.Update("a")]);

        (await agent.SubmitAsync([Http.Container("a", tag: "1.1.0")], [])).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await admin.FindUpdateAsync(id, "a")).ShouldBeNull();
    }

    [Theory]
    [InlineData("ignore")]
    [InlineData("deploy")]
    public async Task Submit_DigestChangesAfterDecision_UpdatePendingAgain(string decision)
    {
        var (id, _, agent) = await f.NewAgentAsync();
        var admin = await f.AdminAsync();
        await agent.SubmitAsync([Http.Container("a")], [Http.Update("a", digest: "sha256:v1")]);
        var updateId = (await admin.FindUpdateAsync(id, "a"))!.Value.GetProperty("id").GetString();
        (await admin.PostAsync($"/api/v1/admin/updates/{updateId}/{decision}", null)).IsSuccessStatusCode.ShouldBeTrue();
        if (decision == "deploy")
        {
            var cmd = (await agent.PollAsync()).Single();
            (await agent.PostAsJsonAsync($"/api/v1/reports/commands/{cmd.CommandId}/result", new CommandResult(cmd.CommandId, true))).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        }

        var decided = decision == "deploy" ? "deployed" : "ignored";
        await agent.SubmitAsync([Http.Container("a")], [Http.Update("a", digest: "sha256:v1")]);
        (await admin.FindUpdateAsync(id, "a"))!.Value.GetProperty("status").GetString().ShouldBe(decided);

        await agent.SubmitAsync([Http.Container("a")], [Http.Update("a", digest: "sha256:v2")]);

        var again = (await admin.FindUpdateAsync(id, "a"))!.Value;
        again.GetProperty("status").GetString().ShouldBe("pending");
        again.GetProperty("latestDigest").GetString().ShouldBe("sha256:v2");
    }

    [Fact]
    public async Task Commands_LongPoll_ReturnsAsSoonAsDeployIsQueued()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        var admin = await f.AdminAsync();
        await agent.SubmitAsync([Http.Container("web")], [Http.Update("web", latest: "1.2.0")]);
        var updateId = (await admin.FindUpdateAsync(id, "web"))!.Value.GetProperty("id").GetString();

        // wait=60 on a fake clock that never moves: only the deploy can end this poll.
        var poll = agent.PollAsync(wait: 60);
        await Task.Delay(200);
        poll.IsCompleted.ShouldBeFalse();
        var deploy = await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null);
        deploy.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var commandId = (await deploy.JsonAsync()).GetProperty("commandId").GetString();

        var commands = await poll.WaitAsync(TimeSpan.FromSeconds(10));

        var cmd = commands.ShouldHaveSingleItem();
        cmd.CommandId.ShouldBe(commandId);
        cmd.Type.ShouldBe("deploy");
        cmd.UpdateResultId.ShouldBe(updateId);
        cmd.Image.ShouldBe("registry.example/app");
        cmd.LatestTag.ShouldBe("1.2.0");
        cmd.ContainerId.ShouldBe("web");
        cmd.ComposeFile.ShouldBe("/srv/app/compose.yml");
        cmd.ComposeService.ShouldBe("web");
    }

    [Fact]
    public async Task Commands_NothingQueued_EmptyListAfterWait()
    {
        var (_, _, agent) = await f.NewAgentAsync();
        var poll = agent.PollAsync(wait: 5);
        for (var i = 0; i < 100 && !poll.IsCompleted; i++)
        {
            await Task.Delay(20);
            f.Time.Advance(TimeSpan.FromSeconds(1));
        }

        (await poll.WaitAsync(TimeSpan.FromSeconds(10))).ShouldBeEmpty();
    }

    [Fact]
    public async Task Commands_NoResultBeforeLeaseEnds_DeliveredAgain()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        var admin = await f.AdminAsync();
        (await admin.PostAsJsonAsync("/api/v1/admin/scans", new { agentId = id })).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var first = (await agent.PollAsync()).ShouldHaveSingleItem();
        first.Type.ShouldBe("scan");

        (await agent.PollAsync()).ShouldBeEmpty();
        f.Time.Advance(TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(1));

        (await agent.PollAsync()).ShouldHaveSingleItem().CommandId.ShouldBe(first.CommandId);
        (await agent.PostAsJsonAsync($"/api/v1/reports/commands/{first.CommandId}/result", new CommandResult(first.CommandId, true))).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        f.Time.Advance(TimeSpan.FromMinutes(3));
        (await agent.PollAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Commands_NeverAnswered_FailAfterMaxDeliveries_AndTheUpdateCanBeRetried()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        var admin = await f.AdminAsync();
        await agent.SubmitAsync([Http.Container("stuck")], [Http.Update("stuck")]);
        var updateId = (await admin.FindUpdateAsync(id, "stuck"))!.Value.GetProperty("id").GetString()!;
        await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null);

        for (var delivery = 1; delivery <= 5; delivery++)
        {
            (await agent.PollAsync()).ShouldHaveSingleItem();
            f.Time.Advance(TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(1));
        }

        (await agent.PollAsync()).ShouldBeEmpty();
        (await admin.FindUpdateAsync(id, "stuck"))!.Value.GetProperty("status").GetString().ShouldBe("failed");
        (await admin.GetJsonAsync($"/api/v1/admin/audit?target={updateId}")).EnumerateArray()
            .ShouldContain(e => e.GetProperty("action").GetString() == "deploy.expired");
        (await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Result_Repeated_IsIdempotentAndADifferentOneConflicts()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        var admin = await f.AdminAsync();
        await agent.SubmitAsync([Http.Container("db")], [Http.Update("db")]);
        var updateId = (await admin.FindUpdateAsync(id, "db"))!.Value.GetProperty("id").GetString();
        await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null);
        var cmd = (await agent.PollAsync()).Single();
        var result = new CommandResult(cmd.CommandId, true, null, "pulled 1.1.0\nrecreated db");

        (await agent.PostAsJsonAsync($"/api/v1/reports/commands/{cmd.CommandId}/result", result)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await agent.PostAsJsonAsync($"/api/v1/reports/commands/{cmd.CommandId}/result", result)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        var different = await agent.PostAsJsonAsync($"/api/v1/reports/commands/{cmd.CommandId}/result", result with { Success = false, Error = "boom" });

        await different.ShouldBeProblemAsync(HttpStatusCode.Conflict);
        (await admin.FindUpdateAsync(id, "db"))!.Value.GetProperty("status").GetString().ShouldBe("deployed");
    }

    [Fact]
    public async Task Result_UnknownOrOtherAgentsCommand_Returns404()
    {
        var (idA, _, agentA) = await f.NewAgentAsync("a");
        var (_, _, agentB) = await f.NewAgentAsync("b");
        var admin = await f.AdminAsync();
        await admin.PostAsJsonAsync("/api/v1/admin/scans", new { agentId = idA });
        var cmd = (await agentA.PollAsync()).Single();

        var other = await agentB.PostAsJsonAsync($"/api/v1/reports/commands/{cmd.CommandId}/result", new CommandResult(cmd.CommandId, true));
        var unknown = await agentA.PostAsJsonAsync("/api/v1/reports/commands/nope/result", new CommandResult("nope", true));

        await other.ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await unknown.ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Result_DeployFailed_MarksUpdateFailedAndAuditsTheLog()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        var admin = await f.AdminAsync();
        await agent.SubmitAsync([Http.Container("api")], [Http.Update("api")]);
        var updateId = (await admin.FindUpdateAsync(id, "api"))!.Value.GetProperty("id").GetString()!;
        await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null);
        var cmd = (await agent.PollAsync()).Single();

        var res = await agent.PostAsJsonAsync($"/api/v1/reports/commands/{cmd.CommandId}/result",
            new CommandResult(cmd.CommandId, false, "health check failed", "pulling...\nhealth check failed after 30s"));

        res.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await admin.FindUpdateAsync(id, "api"))!.Value.GetProperty("status").GetString().ShouldBe("failed");
        var audit = await admin.GetJsonAsync($"/api/v1/admin/audit?target={updateId}");
        var entry = audit.EnumerateArray().First(e => e.GetProperty("action").GetString() == "deploy.failed");
        entry.GetProperty("actor").GetString().ShouldBe($"agent:{id}");
        entry.GetProperty("log").GetString()!.ShouldContain("health check failed after 30s");
    }

    private static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
