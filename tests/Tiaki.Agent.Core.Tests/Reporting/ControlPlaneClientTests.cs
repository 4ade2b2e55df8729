using Tiaki.Testing.Registry;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tiaki.Agent.Core.Reporting;
using Tiaki.Contracts;

namespace Tiaki.Agent.Core.Tests.Reporting;

/// <summary>The client against a loopback HTTP server that records what it was sent and answers as told.</summary>
public sealed class ControlPlaneClientTests : IDisposable
{
    private readonly HttpListener listener = new();
    private readonly HttpClient http;
    private readonly List<(string Method, string Path, string? Auth, string Body)> seen = [];
    private Func<string, (int Status, string Body)> answer = _ => (204, "");

    public ControlPlaneClientTests()
    {
        var port = TestServices.FreePort();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        _ = Task.Run(Serve);
        http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
    }

    public void Dispose()
    {
        listener.Close();
        http.Dispose();
    }

    private async Task Serve()
    {
        while (listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            using var reader = new StreamReader(ctx.Request.InputStream);
            var body = await reader.ReadToEndAsync();
            lock (seen) seen.Add((ctx.Request.HttpMethod, ctx.Request.Url!.PathAndQuery, ctx.Request.Headers["Authorization"], body));
            var (status, text) = answer(ctx.Request.Url!.PathAndQuery);
            ctx.Response.StatusCode = status;
            if (text.Length > 0)
            {
                ctx.Response.ContentType = "application/json";
                var bytes = Encoding.UTF8.GetBytes(text);
                await ctx.Response.OutputStream.WriteAsync(bytes);
            }
            ctx.Response.Close();
        }
    }

    [Fact]
    public async Task RegisterAsync_EnrollmentToken_SentAsBearerWithNameAndType()
    {
        answer = _ => (200, """{"agentId":"a1","apiKey":"k1"}""");

        var response = await new ControlPlaneClient(http).RegisterAsync(new RegisterAgentRequest("host-1", "vm"), "enroll-9", default);

        response.ShouldBe(new RegisterAgentResponse("a1", "k1"));
        var req = seen.ShouldHaveSingleItem();
        (req.Method, req.Path, req.Auth).ShouldBe(("POST", "/api/v1/agents/register", "Bearer enroll-9"));
        req.Body.ShouldBe("""{"name":"host-1","type":"vm"}""");
    }

    [Fact]
    public async Task GetCommandsAsync_LongPoll_AsksToWaitAndParsesCommands()
    {
        answer = _ => (200, """{"commands":[{"commandId":"c1","updateResultId":"u1","image":"web","latestTag":"1.0.1","composeFile":"/srv/c.yml","composeService":"web"},{"commandId":"c2","updateResultId":null,"image":null,"latestTag":null,"composeFile":null,"composeService":null,"type":"scan"}]}""");
        var client = new ControlPlaneClient(http);
        client.UseApiKey("key-1");

        var commands = await client.GetCommandsAsync(TimeSpan.FromSeconds(30), default);

        commands.Select(c => (c.CommandId, c.Type)).ShouldBe([("c1", "deploy"), ("c2", "scan")]);
        commands[0].ComposeFile.ShouldBe("/srv/c.yml");
        var req = seen.ShouldHaveSingleItem();
        (req.Method, req.Path, req.Auth).ShouldBe(("GET", "/api/v1/reports/commands?wait=30", "Bearer key-1"));
    }

    [Fact]
    public async Task PostResultAsync_Result_PostedToItsCommand()
    {
        var client = new ControlPlaneClient(http);
        client.UseApiKey("key-1");

        await client.PostResultAsync(new CommandResult("c/1", false, "health gate: exited", "log"), default);

        var req = seen.ShouldHaveSingleItem();
        req.Path.ShouldBe("/api/v1/reports/commands/c%2F1/result");
        req.Body.ShouldBe("""{"commandId":"c/1","success":false,"error":"health gate: exited","log":"log"}""");
    }

    [Theory]
    [InlineData(503)]
    [InlineData(500)]
    [InlineData(429)]
    public async Task SubmitReportAsync_ServerError_Unavailable(int status)
    {
        answer = _ => (status, """{"title":"busy"}""");

        await Should.ThrowAsync<ControlPlaneUnavailableException>(() =>
            new ControlPlaneClient(http).SubmitReportAsync(new SubmitReportRequest([]), default));
    }

    [Fact]
    public async Task HeartbeatAsync_Unauthorized_RejectedWithStatus()
    {
        answer = _ => (401, """{"title":"Unauthorized"}""");

        var ex = await Should.ThrowAsync<ControlPlaneRejectedException>(() => new ControlPlaneClient(http).HeartbeatAsync(default));
        ex.Status.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task HeartbeatAsync_Accepted_PostedWithKey()
    {
        var client = new ControlPlaneClient(http);
        client.UseApiKey("key-2");

        await client.HeartbeatAsync(default);

        seen.ShouldHaveSingleItem().ShouldBe(("POST", "/api/v1/agents/heartbeat", "Bearer key-2", ""));
    }

    [Fact]
    public async Task HeartbeatAsync_NothingListening_Unavailable()
    {
        using var nowhere = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{TestServices.FreePort()}/") };

        await Should.ThrowAsync<ControlPlaneUnavailableException>(() => new ControlPlaneClient(nowhere).HeartbeatAsync(default));
    }
}
