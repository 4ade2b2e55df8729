using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Tiaki.Contracts;
using Tiaki.Server.Tests.Api;
using Tiaki.Server.Tests.Notifications;

namespace Tiaki.Server.Tests.Policies;

public sealed class PolicyTests_Sqlite(NotifySqliteFixture f) : PolicyTests(f), IClassFixture<NotifySqliteFixture>;

public sealed class PolicyTests_Postgres(NotifyPostgresFixture f) : PolicyTests(f), IClassFixture<NotifyPostgresFixture>;

/// <summary>Update policies through the agent API: what a report triggers at once, and what waits for time to pass.</summary>
public abstract class PolicyTests(ServerFixture f)
{
    private const string Policies = "/api/v1/admin/policies";

    private static string Marker() => Guid.NewGuid().ToString("N")[..10];

    private async Task<(string AgentId, HttpClient Agent, string Image)> AgentWithPolicyAsync(string m, object policy)
    {
        var (agentId, _, agent) = await f.NewAgentAsync($"host-{m}");
        await (await f.AdminAsync()).CreateAsync(Policies, policy);
        return (agentId, agent, $"policy/{m}/app");
    }

    private static Task<HttpResponseMessage> ReportAsync(HttpClient agent, string image, UpdateReport update) =>
        agent.SubmitAsync([Http.Container("app", image: image)], [update]);

    private async Task<string> UpdateStatusAsync(string agentId) =>
        (await (await f.AdminAsync()).FindUpdateAsync(agentId, "app"))!.Value.GetProperty("status").GetString()!;

    [Fact]
    public async Task Submit_PatchUpdateUnderAutoDeployPolicy_DeployCommandAtOnceAndAudited()
    {
        var m = Marker();
        var (agentId, agent, image) = await AgentWithPolicyAsync(m, new { name = $"auto-{m}", imagePattern = $"policy/{m}/*", autoDeploy = true, maxBump = "patch" });

        (await ReportAsync(agent, image, Http.Update("app", latest: "1.0.1") with { Bump = "patch" })).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        var command = (await agent.PollAsync()).Single();
        command.Type.ShouldBe(CommandTypes.Deploy);
        command.Image.ShouldBe(image);
        command.LatestTag.ShouldBe("1.0.1");
        (await UpdateStatusAsync(agentId)).ShouldBe("deploying");
        var audit = await (await f.AdminAsync()).GetJsonAsync($"/api/v1/admin/audit?target={command.UpdateResultId}");
        var entry = audit.EnumerateArray().Single(a => a.GetProperty("action").GetString() == "update.deploy-requested");
        entry.GetProperty("actor").GetString().ShouldBe($"policy:auto-{m}");
        entry.GetProperty("detail").GetString()!.ShouldStartWith($"deployed by policy auto-{m}: {image}:1.0.0 -> 1.0.1");

        (await agent.PostAsJsonAsync($"/api/v1/reports/commands/{command.CommandId}/result", new CommandResult(command.CommandId, true))).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        var mail = await EmailSenderTests.WaitForMessageAsync(TestEnvironment.Require("TIAKI_TEST_MAILDIR"), $"Deployed name-app 1.0.1 on host-{m}");
        mail.TextBody.ShouldNotBeNull().ShouldContain($"Deployed automatically by policy auto-{m}.");
    }

    [Fact]
    public async Task Submit_MajorUpdateUnderPatchPolicy_NoCommandEvenLater()
    {
        var m = Marker();
        var (agentId, agent, image) = await AgentWithPolicyAsync(m, new { name = $"auto-{m}", imagePattern = $"policy/{m}/*", autoDeploy = true, maxBump = "patch" });

        (await ReportAsync(agent, image, Http.Update("app", latest: "2.0.0") with { Bump = "major" })).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await agent.PollAsync()).ShouldBeEmpty();
        await Eventually.EvaluateAtAsync(f, await f.AdminAsync(), f.Time.GetUtcNow() + TimeSpan.FromMinutes(1));
        (await agent.PollAsync()).ShouldBeEmpty();
        (await UpdateStatusAsync(agentId)).ShouldBe("pending");
    }

    [Fact]
    public async Task Submit_OutsideMaintenanceWindow_WaitsAndDeploysWhenWindowOpens()
    {
        var m = Marker();
        var now = f.Time.GetUtcNow();
        var opens = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(2);
        var (agentId, agent, image) = await AgentWithPolicyAsync(m, new
        {
            name = $"window-{m}", imagePattern = $"policy/{m}/*", autoDeploy = true, maxBump = "minor",
            maintenanceWindow = new { cron = $"0 {opens.Hour} * * *", durationMinutes = 30 },
        });
        var admin = await f.AdminAsync();

        (await ReportAsync(agent, image, Http.Update("app", latest: "1.1.0") with { Bump = "minor" })).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await agent.PollAsync()).ShouldBeEmpty();

        var held = (await admin.FindUpdateAsync(agentId, "app"))!.Value;
        held.GetProperty("heldReason").GetString().ShouldBe("waiting for the maintenance window");
        held.GetProperty("heldUntil").GetDateTimeOffset().ShouldBe(opens);

        await Eventually.EvaluateAtAsync(f, admin, opens - TimeSpan.FromMinutes(10));
        (await agent.PollAsync()).ShouldBeEmpty();
        (await UpdateStatusAsync(agentId)).ShouldBe("pending");

        await Eventually.EvaluateAtAsync(f, admin, opens + TimeSpan.FromMinutes(1));
        var command = (await agent.PollAsync()).Single();
        command.LatestTag.ShouldBe("1.1.0");
        (await UpdateStatusAsync(agentId)).ShouldBe("deploying");
    }

    [Fact]
    public async Task Submit_TooYoungImage_HeldBackAndNotAnnouncedUntilOldEnough()
    {
        var m = Marker();
        var built = f.Time.GetUtcNow() - TimeSpan.FromMinutes(10);
        var (agentId, agent, image) = await AgentWithPolicyAsync(m, new { name = $"age-{m}", imagePattern = $"policy/{m}/*", autoDeploy = true, maxBump = "minor", minImageAgeMinutes = 60 });
        var admin = await f.AdminAsync();
        async Task<int> AnnouncementsAsync() => (await admin.DeliveriesAsync("&event=updates.found")).Count(d => d.GetProperty("body").GetString()!.Contains($"host-{m}", StringComparison.Ordinal));

        (await ReportAsync(agent, image, Http.Update("app", latest: "1.0.1") with { Bump = "patch", ImageCreatedAt = built })).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await agent.PollAsync()).ShouldBeEmpty();
        (await AnnouncementsAsync()).ShouldBe(0);
        var held = (await admin.FindUpdateAsync(agentId, "app"))!.Value;
        held.GetProperty("heldReason").GetString().ShouldBe("image too young");
        held.GetProperty("heldUntil").GetDateTimeOffset().ShouldBe(built + TimeSpan.FromMinutes(60));

        await Eventually.EvaluateAtAsync(f, admin, built + TimeSpan.FromMinutes(40));
        (await agent.PollAsync()).ShouldBeEmpty();
        (await AnnouncementsAsync()).ShouldBe(0);

        await Eventually.EvaluateAtAsync(f, admin, built + TimeSpan.FromMinutes(61));
        (await agent.PollAsync()).Single().LatestTag.ShouldBe("1.0.1");
        (await AnnouncementsAsync()).ShouldBe(1);
    }

    [Fact]
    public async Task Submit_CandidateWithNewCriticalVulnerability_NotAutoDeployedAndAudited()
    {
        var m = Marker();
        var (agentId, agent, image) = await AgentWithPolicyAsync(m, new { name = $"vuln-{m}", imagePattern = $"policy/{m}/*", autoDeploy = true, maxBump = "patch" });
        var vulns = new VulnerabilityReport(new SeverityCounts(1, 2, 0, 0, 0)) { Current = new SeverityCounts(0, 2, 0, 0, 0), Introduced = new SeverityCounts(1, 0, 0, 0, 0) };

        (await ReportAsync(agent, image, Http.Update("app", latest: "1.0.1") with { Bump = "patch", Vulnerabilities = vulns })).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await agent.PollAsync()).ShouldBeEmpty();
        var update = (await (await f.AdminAsync()).FindUpdateAsync(agentId, "app"))!.Value;
        update.GetProperty("status").GetString().ShouldBe("pending");
        var audit = await (await f.AdminAsync()).GetJsonAsync($"/api/v1/admin/audit?target={update.GetProperty("id").GetString()}");
        audit.EnumerateArray().Single().GetProperty("action").GetString().ShouldBe("update.auto-deploy-blocked");
    }

    [Fact]
    public async Task Submit_AutoApprovePolicy_ApprovesWithoutDeploying()
    {
        var m = Marker();
        var (agentId, agent, image) = await AgentWithPolicyAsync(m, new { name = $"approve-{m}", imagePattern = $"policy/{m}/*", autoApprove = true, maxBump = "minor" });

        (await ReportAsync(agent, image, Http.Update("app", latest: "1.1.0") with { Bump = "minor" })).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await agent.PollAsync()).ShouldBeEmpty();
        (await UpdateStatusAsync(agentId)).ShouldBe("approved");
    }

    [Fact]
    public async Task Submit_MutedPolicy_NoUpdatesFoundNotification()
    {
        var m = Marker();
        var (_, agent, image) = await AgentWithPolicyAsync(m, new { name = $"mute-{m}", imagePattern = $"policy/{m}/*", muteNotifications = true });
        var (_, _, loud) = await f.NewAgentAsync($"loud-{m}");
        var admin = await f.AdminAsync();

        (await ReportAsync(agent, image, Http.Update("app"))).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await ReportAsync(loud, $"other/{m}/app", Http.Update("app"))).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        var announced = (await admin.DeliveriesAsync("&event=updates.found")).Select(d => d.GetProperty("body").GetString()!).ToList();
        announced.ShouldContain(b => b.Contains($"loud-{m}", StringComparison.Ordinal));
        announced.ShouldNotContain(b => b.Contains($"host-{m}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Match_AgentSpecificThenLongestPattern_MostSpecificWins()
    {
        var m = Marker();
        var admin = await f.AdminAsync();
        var (agentId, _, _) = await f.NewAgentAsync($"host-{m}");
        var wide = await admin.CreateAsync(Policies, new { name = $"wide-{m}", imagePattern = $"policy/{m}/*" });
        var exact = await admin.CreateAsync(Policies, new { name = $"exact-{m}", imagePattern = $"policy/{m}/app" });
        var mine = await admin.CreateAsync(Policies, new { name = $"agent-{m}", imagePattern = $"policy/{m}/*", agentId });
        async Task<string?> MatchAsync(string image, string? agent)
        {
            var res = await admin.GetAsync($"{Policies}/match?image={Uri.EscapeDataString(image)}{(agent is null ? "" : $"&agentId={agent}")}");
            return res.StatusCode == HttpStatusCode.NoContent ? null : (await res.JsonAsync()).GetProperty("id").GetString();
        }

        (await MatchAsync($"policy/{m}/app", agentId)).ShouldBe(mine);
        (await MatchAsync($"policy/{m}/app", "another-agent")).ShouldBe(exact);
        (await MatchAsync($"policy/{m}/db", "another-agent")).ShouldBe(wide);
        (await MatchAsync($"unrelated/{m}/db", null)).ShouldBeNull();

        // Docker Hub's official images go by several names; a short pattern matches the long form the agent reports.
        var hub = await admin.CreateAsync(Policies, new { name = $"hub-{m}", imagePattern = $"hub{m}*" });
        (await MatchAsync($"docker.io/library/hub{m}", null)).ShouldBe(hub);
    }

    [Theory]
    [InlineData("{\"name\":\"p\",\"imagePattern\":\"a/*\",\"maxBump\":\"huge\"}", "maxBump")]
    [InlineData("{\"name\":\"p\",\"imagePattern\":\"\"}", "imagePattern")]
    [InlineData("{\"name\":\"p\",\"imagePattern\":\"a/*\",\"maintenanceWindow\":{\"cron\":\"every night\",\"durationMinutes\":60}}", "maintenanceWindow.cron")]
    [InlineData("{\"name\":\"p\",\"imagePattern\":\"a/*\",\"maintenanceWindow\":{\"cron\":\"0 2 * * *\",\"durationMinutes\":0}}", "maintenanceWindow.durationMinutes")]
    [InlineData("{\"name\":\"p\",\"imagePattern\":\"a/*\",\"minImageAgeMinutes\":-5}", "minImageAgeMinutes")]
    [InlineData("{\"name\":\"p\",\"imagePattern\":\"a/*\",\"agentId\":\"no-such-agent\"}", "agentId")]
    public async Task Create_InvalidBody_Returns400NamingField(string body, string field)
    {
        var res = await (await f.AdminAsync()).PostAsync(Policies, new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await res.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
    }

    [Fact]
    public async Task Crud_CreateReadUpdateDelete_RoundTrips()
    {
        var m = Marker();
        var admin = await f.AdminAsync();
        var id = await admin.CreateAsync(Policies, new { name = $"crud-{m}", imagePattern = "crud/*", autoDeploy = true, maxBump = "minor", minImageAgeMinutes = 120 });

        var read = await admin.GetJsonAsync($"{Policies}/{id}");
        read.GetProperty("maxBump").GetString().ShouldBe("minor");
        read.GetProperty("minImageAgeMinutes").GetInt32().ShouldBe(120);
        var put = await admin.PutAsJsonAsync($"{Policies}/{id}", new { name = $"crud-{m}", imagePattern = "crud/*", maxBump = "digest", maintenanceWindow = new { cron = "0 3 * * 6", durationMinutes = 90 } });
        put.StatusCode.ShouldBe(HttpStatusCode.OK);
        var updated = await admin.GetJsonAsync($"{Policies}/{id}");
        updated.GetProperty("autoDeploy").GetBoolean().ShouldBeFalse();
        updated.GetProperty("maintenanceWindow").GetProperty("durationMinutes").GetInt32().ShouldBe(90);
        await (await admin.PostAsJsonAsync(Policies, new { name = $"crud-{m}", imagePattern = "x" })).ShouldBeProblemAsync(HttpStatusCode.Conflict);
        (await admin.DeleteAsync($"{Policies}/{id}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await (await admin.GetAsync($"{Policies}/{id}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }
}
