using System.Net;
using System.Net.Http.Json;
using Tiaki.Contracts;

namespace Tiaki.Server.Tests.Api;

public sealed class AdminApiTests_Sqlite(SqliteFixture f) : AdminApiTests(f), IClassFixture<SqliteFixture>;

public sealed class AdminApiTests_Postgres(PostgresFixture f) : AdminApiTests(f), IClassFixture<PostgresFixture>;

/// <summary>The admin side of /api/v1 (JWT), end to end through HTTP, on each database.</summary>
public abstract class AdminApiTests(ServerFixture f)
{
    [Theory]
    [InlineData("GET", "/api/v1/admin/agents")]
    [InlineData("POST", "/api/v1/admin/enrollment-tokens")]
    [InlineData("GET", "/api/v1/admin/updates")]
    [InlineData("GET", "/api/v1/admin/audit")]
    public async Task AdminEndpoints_WithoutJwt_Return401(string method, string url)
    {
        var res = await f.Anonymous().SendAsync(new HttpRequestMessage(new HttpMethod(method), url));
        res.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task AdminEndpoints_WithAnAgentKey_Return401()
    {
        var (_, key, _) = await f.NewAgentAsync();
        (await f.AgentClient(key).GetAsync("/api/v1/admin/agents")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task CreateAgent_KeyShownOnce_ListNeverShowsIt()
    {
        var admin = await f.AdminAsync();
        var res = await admin.PostAsJsonAsync("/api/v1/admin/agents", new { name = "k8s-prod", type = "k8s" });

        res.StatusCode.ShouldBe(HttpStatusCode.Created);
        var created = (await res.Content.ReadFromJsonAsync<RegisterAgentResponse>())!;
        var listText = await admin.GetStringAsync("/api/v1/admin/agents");
        listText.ShouldContain(created.AgentId);
        listText.ShouldContain("k8s-prod");
        listText.ShouldNotContain(created.ApiKey);
        listText.ShouldNotContain(created.ApiKey[22..]);
    }

    [Fact]
    public async Task CreateAgent_MissingName_Returns400NamingName()
    {
        var admin = await f.AdminAsync();
        var problem = await (await admin.PostAsJsonAsync("/api/v1/admin/agents", new { type = "vm" })).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        problem.GetProperty("errors").TryGetProperty("name", out _).ShouldBeTrue(problem.ToString());
    }

    [Fact]
    public async Task DeleteAgent_RevokesItsKeyAtOnce()
    {
        var (id, _, agent) = await f.NewAgentAsync("doomed");
        var admin = await f.AdminAsync();
        // Twice: the second call is served from the verification cache, which must not outlive the agent.
        (await agent.PostAsync("/api/v1/agents/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await agent.PostAsync("/api/v1/agents/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await admin.DeleteAsync($"/api/v1/admin/agents/{id}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await agent.PostAsync("/api/v1/agents/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await agent.GetAsync("/api/v1/reports/commands?wait=0")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        await (await admin.GetAsync($"/api/v1/admin/agents/{id}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await admin.DeleteAsync($"/api/v1/admin/agents/{id}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Containers_FilteredByAgent_ShowReportedFields()
    {
        var (idA, _, a) = await f.NewAgentAsync("a");
        var (_, _, b) = await f.NewAgentAsync("b");
        await a.SubmitAsync([Http.Container("x") with { Namespace = "prod", Labels = new Dictionary<string, string> { ["tiaki.policy"] = "auto" } }], null);
        await b.SubmitAsync([Http.Container("y")], null);
        var admin = await f.AdminAsync();

        var list = await admin.GetJsonAsync($"/api/v1/admin/containers?agentId={idA}");

        var only = list.EnumerateArray().ShouldHaveSingleItem();
        only.GetProperty("containerId").GetString().ShouldBe("x");
        only.GetProperty("namespace").GetString().ShouldBe("prod");
        only.GetProperty("labels").GetProperty("tiaki.policy").GetString().ShouldBe("auto");
    }

    [Fact]
    public async Task Updates_FilterByStatus_ReturnsOnlyThatStatus()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        await agent.SubmitAsync([Http.Container("p"), Http.Container("i")], [Http.Update("p"), Http.Update("i")]);
        var admin = await f.AdminAsync();
        var ignoreId = (await admin.FindUpdateAsync(id, "i"))!.Value.GetProperty("id").GetString();
        (await admin.PostAsync($"/api/v1/admin/updates/{ignoreId}/ignore", null)).StatusCode.ShouldBe(HttpStatusCode.OK);

        var ignored = await admin.GetJsonAsync($"/api/v1/admin/updates?status=ignored&agentId={id}");
        var pending = await admin.GetJsonAsync($"/api/v1/admin/updates?status=pending&agentId={id}");

        ignored.EnumerateArray().Select(u => u.GetProperty("containerId").GetString()).ShouldBe(["i"]);
        pending.EnumerateArray().Select(u => u.GetProperty("containerId").GetString()).ShouldBe(["p"]);
    }

    [Fact]
    public async Task Updates_UnknownStatusFilter_Returns400NamingStatus()
    {
        var admin = await f.AdminAsync();
        var problem = await (await admin.GetAsync("/api/v1/admin/updates?status=bogus")).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        problem.GetProperty("errors").TryGetProperty("status", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Approve_ThenDeploy_Returns202WithCommandId()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        await agent.SubmitAsync([Http.Container("w")], [Http.Update("w")]);
        var admin = await f.AdminAsync();
        var updateId = (await admin.FindUpdateAsync(id, "w"))!.Value.GetProperty("id").GetString();

        var approved = await admin.PostAsync($"/api/v1/admin/updates/{updateId}/approve", null);
        (await approved.JsonAsync()).GetProperty("status").GetString().ShouldBe("approved");
        var deploy = await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null);

        deploy.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var commandId = (await deploy.JsonAsync()).GetProperty("commandId").GetString();
        (await agent.PollAsync()).ShouldHaveSingleItem().CommandId.ShouldBe(commandId);
        (await admin.FindUpdateAsync(id, "w"))!.Value.GetProperty("status").GetString().ShouldBe("deploying");
        // A second deploy while one is in flight would race the first.
        await (await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null)).ShouldBeProblemAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Deploy_IgnoredUpdate_Returns409_UnknownReturns404()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        await agent.SubmitAsync([Http.Container("w")], [Http.Update("w")]);
        var admin = await f.AdminAsync();
        var updateId = (await admin.FindUpdateAsync(id, "w"))!.Value.GetProperty("id").GetString();
        await admin.PostAsync($"/api/v1/admin/updates/{updateId}/ignore", null);

        await (await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null)).ShouldBeProblemAsync(HttpStatusCode.Conflict);
        await (await admin.PostAsync("/api/v1/admin/updates/does-not-exist/deploy", null)).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Rollback_AfterDeploy_QueuesRollbackWithPreviousTag()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        await agent.SubmitAsync([Http.Container("w", tag: "1.0.0")], [Http.Update("w", latest: "2.0.0", current: "1.0.0")]);
        var admin = await f.AdminAsync();
        var updateId = (await admin.FindUpdateAsync(id, "w"))!.Value.GetProperty("id").GetString();
        (await admin.PostAsync($"/api/v1/admin/updates/{updateId}/rollback", null)).StatusCode.ShouldBe(HttpStatusCode.Conflict);
        await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null);
        var deploy = (await agent.PollAsync()).Single();
        await agent.PostAsJsonAsync($"/api/v1/reports/commands/{deploy.CommandId}/result", new CommandResult(deploy.CommandId, true));

        var rollback = await admin.PostAsync($"/api/v1/admin/updates/{updateId}/rollback", null);

        rollback.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var cmd = (await agent.PollAsync()).ShouldHaveSingleItem();
        cmd.Type.ShouldBe("rollback");
        cmd.PreviousTag.ShouldBe("1.0.0");
        cmd.CommandId.ShouldBe((await rollback.JsonAsync()).GetProperty("commandId").GetString());
        await agent.PostAsJsonAsync($"/api/v1/reports/commands/{cmd.CommandId}/result", new CommandResult(cmd.CommandId, true));
        (await admin.FindUpdateAsync(id, "w"))!.Value.GetProperty("status").GetString().ShouldBe("rolled_back");
    }

    [Fact]
    public async Task Scans_ForOneAgent_QueuesAScanCommand_UnknownAgentIs404()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        var admin = await f.AdminAsync();

        var res = await admin.PostAsJsonAsync("/api/v1/admin/scans", new { agentId = id });

        res.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var ids = (await res.JsonAsync()).GetProperty("commandIds").EnumerateArray().Select(e => e.GetString()).ToList();
        var cmd = (await agent.PollAsync()).ShouldHaveSingleItem();
        cmd.Type.ShouldBe("scan");
        ids.ShouldBe([cmd.CommandId]);
        await (await admin.PostAsJsonAsync("/api/v1/admin/scans", new { agentId = "nobody" })).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Scans_ForAll_QueuesOnlyForOnlineAgents()
    {
        var (_, _, online) = await f.NewAgentAsync("online");
        var (_, _, silent) = await f.NewAgentAsync("silent");
        await online.PostAsync("/api/v1/agents/heartbeat", null);
        var admin = await f.AdminAsync();

        (await admin.PostAsJsonAsync("/api/v1/admin/scans", new { })).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        (await online.PollAsync()).ShouldContain(c => c.Type == "scan");
        (await silent.PollAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Audit_RecordsWhoDidWhatAndTheDeployLog()
    {
        var (id, _, agent) = await f.NewAgentAsync("audited");
        await agent.SubmitAsync([Http.Container("w")], [Http.Update("w")]);
        var admin = await f.AdminAsync();
        var updateId = (await admin.FindUpdateAsync(id, "w"))!.Value.GetProperty("id").GetString()!;
        await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null);
        var cmd = (await agent.PollAsync()).Single();
        await agent.PostAsJsonAsync($"/api/v1/reports/commands/{cmd.CommandId}/result", new CommandResult(cmd.CommandId, true, null, "docker compose up -d w\ndone"));

        var audit = await admin.GetJsonAsync($"/api/v1/admin/audit?target={updateId}");

        var actions = audit.EnumerateArray().Select(e => (Actor: e.GetProperty("actor").GetString(), Action: e.GetProperty("action").GetString())).ToList();
        actions.ShouldContain(("admin", "update.deploy-requested"));
        actions.ShouldContain(($"agent:{id}", "deploy.succeeded"));
        audit.EnumerateArray().First(e => e.GetProperty("action").GetString() == "deploy.succeeded").GetProperty("log").GetString().ShouldBe("docker compose up -d w\ndone");
        (await admin.GetJsonAsync("/api/v1/admin/audit")).EnumerateArray()
            .ShouldContain(e => e.GetProperty("action").GetString() == "agent.registered" && e.GetProperty("target").GetString() == id);
    }
}
