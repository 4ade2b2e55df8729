using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace Tiaki.Server.Tests.Api;

public sealed class ProtocolTests_Sqlite(SqliteFixture f) : ProtocolTests(f), IClassFixture<SqliteFixture>;

public sealed class ProtocolTests_Postgres(PostgresFixture f) : ProtocolTests(f), IClassFixture<PostgresFixture>;

/// <summary>Client mistakes get RFC 7807 answers naming the field; operations endpoints answer.</summary>
public abstract class ProtocolTests(ServerFixture f)
{
    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string Errors(System.Text.Json.JsonElement problem) =>
        string.Join(",", problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));

    [Fact]
    public async Task Submit_MalformedJson_Returns400()
    {
        var (_, _, agent) = await f.NewAgentAsync();
        await (await agent.PostAsync("/api/v1/reports/submit", Json("{\"containers\": [ {"))).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Submit_MissingContainers_Returns400NamingContainers()
    {
        var (_, _, agent) = await f.NewAgentAsync();
        var problem = await (await agent.PostAsync("/api/v1/reports/submit", Json("""{"updates":[]}"""))).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        Errors(problem).ShouldBe("containers");
    }

    [Fact]
    public async Task Submit_ContainerMissingDigest_Returns400NamingIt()
    {
        var (_, _, agent) = await f.NewAgentAsync();
        var res = await agent.PostAsync("/api/v1/reports/submit", Json("""{"containers":[{"containerId":"a","name":"n","image":"i","tag":"1"}]}"""));
        var problem = await res.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        Errors(problem).ShouldContain("digest");
    }

    [Fact]
    public async Task Submit_WrongType_Returns400NamingTheField()
    {
        var (_, _, agent) = await f.NewAgentAsync();
        var res = await agent.PostAsync("/api/v1/reports/submit", Json("""{"containers":[{"containerId":"a","name":"n","image":"i","tag":"1","digest":42}]}"""));
        var problem = await res.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        Errors(problem).ShouldBe("containers[0].digest");
    }

    [Fact]
    public async Task Submit_NullForRequiredField_Returns400NamingIt()
    {
        var (_, _, agent) = await f.NewAgentAsync();
        var res = await agent.PostAsync("/api/v1/reports/submit", Json("""{"containers":[{"containerId":"a","name":null,"image":"i","tag":"1","digest":"d"}]}"""));
        var problem = await res.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        Errors(problem).ShouldContain("name");
    }

    [Fact]
    public async Task Result_WrongBooleanType_Returns400NamingSuccess()
    {
        var (_, _, agent) = await f.NewAgentAsync();
        var res = await agent.PostAsync("/api/v1/reports/commands/x/result", Json("""{"commandId":"x","success":"yes"}"""));
        Errors(await res.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).ShouldBe("success");
    }

    [Fact]
    public async Task Commands_NonNumericWait_Returns400NamingWait()
    {
        var (_, _, agent) = await f.NewAgentAsync();
        var problem = await (await agent.GetAsync("/api/v1/reports/commands?wait=soon")).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        Errors(problem).ShouldBe("wait");
    }

    [Fact]
    public async Task Submit_BodyOverLimit_Returns413()
    {
        var (_, _, agent) = await f.NewAgentAsync();
        var big = new string('x', 1024 * 1024 + 10);
        var res = await agent.PostAsync("/api/v1/reports/submit", Json($$"""{"containers":[],"pad":"{{big}}"}"""));
        await res.ShouldBeProblemAsync(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Submit_WrongContentType_Returns4xxProblemNot500()
    {
        var (_, _, agent) = await f.NewAgentAsync();
        var res = await agent.PostAsync("/api/v1/reports/submit", new StringContent("containers=1", Encoding.UTF8, "text/plain"));
        ((int)res.StatusCode).ShouldBeInRange(400, 499);
        (await res.Content.ReadAsStringAsync()).ShouldNotContain("   at ");
    }

    [Fact]
    public async Task Healthz_And_Readyz_Return200()
    {
        var c = f.Anonymous();
        (await c.GetAsync("/healthz")).StatusCode.ShouldBe(HttpStatusCode.OK);
        var ready = await c.GetJsonAsync("/readyz");
        ready.GetProperty("status").GetString().ShouldBe("ready");
    }

    [Fact]
    public async Task Metrics_ExposeIngestAndCommandCounters()
    {
        var (id, _, agent) = await f.NewAgentAsync();
        await agent.SubmitAsync([Http.Container("m")], null);
        await (await f.AdminAsync()).PostAsJsonAsync("/api/v1/admin/scans", new { agentId = id });
        await agent.PollAsync();

        var text = await f.Anonymous().GetStringAsync("/metrics");

        text.ShouldContain("tiaki_reports_ingested_total");
        text.ShouldContain("tiaki_commands_delivered_total");
        text.ShouldContain("tiaki_commands_queued_total{type=\"scan\"}");
        text.ShouldContain("http_requests_received_total");
    }

    [Fact]
    public async Task OpenApiDocument_ListsTheAgentApi()
    {
        var doc = await f.Anonymous().GetJsonAsync("/openapi/v1.json");
        var paths = doc.GetProperty("paths");
        paths.TryGetProperty("/api/v1/reports/commands", out _).ShouldBeTrue();
        paths.TryGetProperty("/api/v1/admin/updates/{id}/deploy", out _).ShouldBeTrue();
    }
}
