using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tiaki.Contracts;

namespace Tiaki.Server.Tests.Api;

internal static class Http
{
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage res) =>
        JsonDocument.Parse(await res.Content.ReadAsStringAsync()).RootElement.Clone();

    public static async Task<JsonElement> GetJsonAsync(this HttpClient c, string url)
    {
        var res = await c.GetAsync(url);
        res.StatusCode.ShouldBe(HttpStatusCode.OK, await res.Content.ReadAsStringAsync());
        return await res.JsonAsync();
    }

    /// <summary>Asserts an RFC 7807 response with this status and returns its body.</summary>
    public static async Task<JsonElement> ShouldBeProblemAsync(this HttpResponseMessage res, HttpStatusCode status)
    {
        var text = await res.Content.ReadAsStringAsync();
        res.StatusCode.ShouldBe(status, text);
        res.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        text.ShouldNotContain("   at ");
        text.ShouldNotContain("/work/");
        var json = JsonDocument.Parse(text).RootElement.Clone();
        json.GetProperty("status").GetInt32().ShouldBe((int)status);
        return json;
    }

    public static ContainerReport Container(string id, string tag = "1.0.0", string digest = "sha256:aaa", string image = "registry.example/app") =>
        new(id, $"name-{id}", image, tag, digest, ComposeFile: "/srv/app/compose.yml", ComposeService: id);

    public static UpdateReport Update(string containerId, string latest = "1.1.0", string digest = "sha256:bbb", string current = "1.0.0") =>
        new(containerId, current, latest, digest);

    public static Task<HttpResponseMessage> SubmitAsync(this HttpClient agent, IEnumerable<ContainerReport> containers, IEnumerable<UpdateReport>? updates) =>
        agent.PostAsJsonAsync("/api/v1/reports/submit", new SubmitReportRequest(containers.ToList(), updates?.ToList()));

    public static async Task<IReadOnlyList<AgentCommand>> PollAsync(this HttpClient agent, int wait = 0)
    {
        var res = await agent.GetAsync($"/api/v1/reports/commands?wait={wait}");
        res.StatusCode.ShouldBe(HttpStatusCode.OK, await res.Content.ReadAsStringAsync());
        return (await res.Content.ReadFromJsonAsync<CommandsResponse>())!.Commands;
    }

    /// <summary>The update the admin API shows for this agent's container.</summary>
    public static async Task<JsonElement?> FindUpdateAsync(this HttpClient admin, string agentId, string containerId)
    {
        var all = await admin.GetJsonAsync($"/api/v1/admin/updates?agentId={agentId}");
        foreach (var u in all.EnumerateArray())
        {
            if (u.GetProperty("containerId").GetString() == containerId)
            {
                return u;
            }
        }

        return null;
    }
}
