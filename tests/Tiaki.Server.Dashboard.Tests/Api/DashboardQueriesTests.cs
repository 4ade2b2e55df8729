using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tiaki.Contracts;
using Tiaki.Server.Features.Commands;
using Tiaki.Server.Features.Live;

namespace Tiaki.Server.Dashboard.Tests.Api;

public sealed class DashboardQueriesTests_Sqlite(SqliteApiServer server) : DashboardQueriesTests(server), IClassFixture<SqliteApiServer>;

public sealed class DashboardQueriesTests_Postgres(PostgresApiServer server) : DashboardQueriesTests(server), IClassFixture<PostgresApiServer>
{
    [Fact]
    public async Task Report_OnOneReplica_RaisesLiveEventOnTheOther()
    {
        var other = Server.Replica(1);
        await other.Services.GetRequiredService<PostgresCommandListener>().Listening;
        var seen = new TaskCompletionSource<LiveChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        other.Services.GetRequiredService<LiveUpdates>().Changed += c =>
        {
            if (c == LiveChange.Report)
            {
                seen.TrySetResult(c);
            }
        };

        var (_, agent) = await Server.AgentAsync("replica-a-host");
        (await agent.PostAsJsonAsync("/api/v1/reports/submit", new SubmitReportRequest([new("x", "x", "busybox", "1", "sha256:1")], []))).EnsureSuccessStatusCode();

        (await seen.Task.WaitAsync(TimeSpan.FromSeconds(10))).ShouldBe(LiveChange.Report);
    }
}

/// <summary>The queries the dashboard pages run, through the admin API that shares them.</summary>
public abstract class DashboardQueriesTests(ApiServer s)
{
    protected ApiServer Server { get; } = s;

    private async Task<(string AgentA, string AgentB, string Prefix)> SeedAsync()
    {
        var prefix = Guid.NewGuid().ToString("N")[..6];
        var (a, ca) = await Server.AgentAsync($"{prefix}-alpha");
        var (b, cb) = await Server.AgentAsync($"{prefix}-beta");
        (await ca.PostAsJsonAsync("/api/v1/reports/submit", new SubmitReportRequest(
            [new("a1", $"{prefix}-web", "Nginx", "1.25", "sha256:a1"), new("a2", $"{prefix}-db", "postgres", "15", "sha256:a2")],
            [new UpdateReport("a1", "1.25", "1.27", "sha256:n1") { Bump = "minor" }]))).EnsureSuccessStatusCode();
        (await cb.PostAsJsonAsync("/api/v1/reports/submit", new SubmitReportRequest(
            [new("b1", $"{prefix}-cache", "redis", "7.2", "sha256:b1")],
            [new UpdateReport("b1", "7.2", "8.0", "sha256:n2") { Bump = "major" }]))).EnsureSuccessStatusCode();
        return (a, b, prefix);
    }

    private static async Task<JsonElement> QueryAsync(HttpClient admin, string query)
    {
        var res = await admin.GetAsync($"/api/v1/admin/containers/query?{query}");
        res.StatusCode.ShouldBe(HttpStatusCode.OK, await res.Content.ReadAsStringAsync());
        return await res.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string[] Names(JsonElement page) => page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToArray();

    [Fact]
    public async Task ContainersQuery_SearchIsCaseInsensitiveOnNameAndImage()
    {
        var (_, _, p) = await SeedAsync();
        using var admin = await Server.AdminAsync();

        Names(await QueryAsync(admin, $"search={p}-WEB")).ShouldBe([$"{p}-web"]);
        var byImage = await QueryAsync(admin, "search=nginx&agentId=");
        Names(byImage).ShouldContain($"{p}-web");
    }

    [Fact]
    public async Task ContainersQuery_HostAndHasUpdate_FilterAndCarryTheUpdate()
    {
        var (a, _, p) = await SeedAsync();
        using var admin = await Server.AdminAsync();

        var page = await QueryAsync(admin, $"agentId={a}&hasUpdate=true");
        page.GetProperty("total").GetInt32().ShouldBe(1);
        var row = page.GetProperty("items")[0];
        row.GetProperty("name").GetString().ShouldBe($"{p}-web");
        row.GetProperty("agentName").GetString().ShouldBe($"{p}-alpha");
        row.GetProperty("latestTag").GetString().ShouldBe("1.27");
        row.GetProperty("bump").GetString().ShouldBe("minor");
        row.GetProperty("updateStatus").GetString().ShouldBe("pending");
    }

    [Fact]
    public async Task ContainersQuery_SortAndPage_TotalCountsAllMatches()
    {
        var (_, _, p) = await SeedAsync();
        using var admin = await Server.AdminAsync();

        var first = await QueryAsync(admin, $"search={p}&sort=name&descending=true&take=2");
        first.GetProperty("total").GetInt32().ShouldBe(3);
        Names(first).ShouldBe([$"{p}-web", $"{p}-db"]);
        Names(await QueryAsync(admin, $"search={p}&sort=name&descending=true&skip=2&take=2")).ShouldBe([$"{p}-cache"]);
    }

    [Theory]
    [InlineData("sort=colour", "sort")]
    [InlineData("take=0", "take")]
    [InlineData("take=501", "take")]
    [InlineData("skip=-1", "skip")]
    public async Task ContainersQuery_BadParameter_Returns400NamingIt(string query, string field)
    {
        using var admin = await Server.AdminAsync();

        var res = await admin.GetAsync($"/api/v1/admin/containers/query?{query}");

        res.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var problem = await res.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(problem.ToString());
    }

    [Fact]
    public async Task Unignore_IgnoredUpdate_IsOfferedAgainAndAudited()
    {
        var (a, _, _) = await SeedAsync();
        using var admin = await Server.AdminAsync();
        var updates = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/admin/updates?agentId={a}");
        var id = updates[0].GetProperty("id").GetString();

        (await admin.PostAsync($"/api/v1/admin/updates/{id}/ignore", null)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var back = await admin.PostAsync($"/api/v1/admin/updates/{id}/unignore", null);

        back.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await back.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString().ShouldBe("pending");
        var audit = await admin.GetStringAsync($"/api/v1/admin/audit?target={id}");
        audit.ShouldContain("update.unignored");
        // Asking twice is harmless: it stays offered.
        var again = await admin.PostAsync($"/api/v1/admin/updates/{id}/unignore", null);
        (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString().ShouldBe("pending");
    }

    [Fact]
    public async Task Audit_FilterByAction_ReturnsOnlyMatchingEntries()
    {
        await SeedAsync();
        using var admin = await Server.AdminAsync();

        var entries = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/audit?action=REGISTERED&limit=1000");

        entries.GetArrayLength().ShouldBeGreaterThanOrEqualTo(2);
        entries.EnumerateArray().ShouldAllBe(e => e.GetProperty("action").GetString() == "agent.registered");
    }

    [Fact]
    public async Task EnrollmentTokens_ListShowsPrefixNotSecret_RevokedTokenCannotRegister()
    {
        using var admin = await Server.AdminAsync();
        var created = await admin.PostAsJsonAsync("/api/v1/admin/enrollment-tokens", new { uses = 3 });
        var token = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;

        var listText = await admin.GetStringAsync("/api/v1/admin/enrollment-tokens");
        listText.ShouldNotContain(token);
        var listed = JsonSerializer.Deserialize<JsonElement>(listText).EnumerateArray().Single(t => token.Contains(t.GetProperty("prefix").GetString()!, StringComparison.Ordinal));
        listed.GetProperty("usesLeft").GetInt32().ShouldBe(3);

        (await admin.DeleteAsync($"/api/v1/admin/enrollment-tokens/{listed.GetProperty("id").GetString()}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using var agent = Server.Replica(0).CreateClient();
        using var register = new HttpRequestMessage(HttpMethod.Post, "/api/v1/agents/register") { Content = JsonContent.Create(new RegisterAgentRequest("late", "vm")) };
        register.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        (await agent.SendAsync(register)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Overview_CountsPendingUpdatesByBumpKind()
    {
        using var admin = await Server.AdminAsync();
        var before = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/overview");
        await SeedAsync();

        var after = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/overview");

        int Bump(JsonElement o, string k) => o.GetProperty("pendingByBump").GetProperty(k).GetInt32();
        (Bump(after, "major") - Bump(before, "major")).ShouldBe(1);
        (Bump(after, "minor") - Bump(before, "minor")).ShouldBe(1);
        (after.GetProperty("containers").GetInt32() - before.GetProperty("containers").GetInt32()).ShouldBe(3);
        (after.GetProperty("agentsOnline").GetInt32() - before.GetProperty("agentsOnline").GetInt32()).ShouldBe(2);
    }

    [Fact]
    public async Task Settings_ShowWhatTheServerRunsWith_NoSecret()
    {
        using var admin = await Server.AdminAsync();

        var text = await admin.GetStringAsync("/api/v1/admin/settings");

        text.ShouldContain(Server.IsPostgres ? "PostgreSQL" : "SQLite");
        text.ShouldNotContain(ApiServer.AdminToken);
        text.ShouldNotContain("dash-api-jwt-signing-key");
        text.ShouldNotContain(Server.DatabaseUrl);
    }

    [Fact]
    public async Task Report_Ingested_RaisesALiveEventForOpenPages()
    {
        var live = Server.Replica(0).Services.GetRequiredService<LiveUpdates>();
        var seen = new TaskCompletionSource<LiveChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChange(LiveChange c)
        {
            if (c == LiveChange.Report)
            {
                seen.TrySetResult(c);
            }
        }

        live.Changed += OnChange;
        try
        {
            await SeedAsync();
            (await seen.Task.WaitAsync(TimeSpan.FromSeconds(10))).ShouldBe(LiveChange.Report);
        }
        finally
        {
            live.Changed -= OnChange;
        }
    }
}
