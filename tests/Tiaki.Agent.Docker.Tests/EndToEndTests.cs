extern alias server;
using System.Collections;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Tiaki.Agent.Core.Configuration;
using Tiaki.Agent.Core.Loop;
using Tiaki.Agent.Core.Processes;
using Tiaki.Agent.Core.Runtime;
using Tiaki.Agent.Core.Updates;
using Tiaki.Contracts;

namespace Tiaki.Agent.Docker.Tests;

/// <summary>The real control plane (in-process, SQLite) driving the real agent loop over the real Docker engine, registry and git.</summary>
[Collection(DockerCollection.Name)]
public sealed class EndToEndTests(DockerFixture docker) : IAsyncLifetime
{
    private const string AdminToken = "tdk-admin-token-0123456789abcdef0123";
    private readonly string data = Directory.CreateTempSubdirectory("tdk-e2e-").FullName;
    private ControlPlane control = null!;

    private sealed class ControlPlane(string data) : WebApplicationFactory<server::Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Production");
            builder.UseSetting("ADMIN_TOKEN", AdminToken);
            builder.UseSetting("DATABASE_URL", $"Data Source={Path.Combine(data, "tiaki.db")}");
            builder.UseSetting("TIAKI_DATA_DIR", data);
            builder.UseSetting("RUN_SCHEDULER", "false");
            builder.UseSetting("PORT", "0");
        }
    }

    public Task InitializeAsync()
    {
        control = new ControlPlane(data);
        _ = control.Server;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await control.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(data, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Agent_ComposeUpdateDeployedThenBrokenUpdateRolledBack_ThroughTheControlPlane()
    {
        var repo = docker.NewRepository("e2e");
        await docker.PushAsync(repo, "1.0.0", "1.0.0");
        var project = "tdk" + Guid.NewGuid().ToString("N")[..10];
        var dir = Directory.CreateTempSubdirectory("tdk-e2e-compose-").FullName;
        var original = $"# managed by Tiaki\nversion: \"2.4\"\nservices:\n  app:\n    image: {repo}:1.0.0 # current\n    network_mode: none\n    init: true\n";
        var composeFile = Path.Combine(dir, "docker-compose.yml");
        await File.WriteAllTextAsync(composeFile, original);
        await docker.RunIn(dir, "git", "init", "-q", "-b", "main");
        await docker.RunIn(dir, "git", "-c", "user.name=u", "-c", "user.email=u@x", "add", ".");
        await docker.RunIn(dir, "git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-q", "-m", "init");
        await docker.RunIn(dir, "docker-compose", "-p", project, "up", "-d");
        using var stop = new CancellationTokenSource();
        Task? agent = null;
        try
        {
            var admin = control.CreateClient();
            var login = await admin.PostAsJsonAsync("/api/v1/auth/login", new { token = AdminToken });
            login.EnsureSuccessStatusCode();
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString());
            var enrollment = await admin.PostAsJsonAsync("/api/v1/admin/enrollment-tokens", new { });
            var token = (await enrollment.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;

            await docker.PushAsync(repo, "1.0.1", "1.0.1");
            var (options, errors) = AgentOptions.FromEnvironment(new Hashtable
            {
                ["CONTROL_URL"] = "http://localhost",
                ["TIAKI_ENROLLMENT_TOKEN"] = token,
                ["AGENT_NAME"] = "tdk-e2e",
                ["AGENT_STATE_DIR"] = Path.Combine(data, "agent"),
                ["SCAN_INTERVAL"] = "10m",
                ["HEALTH_TIMEOUT"] = "2s",
            });
            errors.ShouldBeEmpty();
            var agentHttp = control.CreateClient();
            agentHttp.Timeout = Timeout.InfiniteTimeSpan;
            // The agent as AgentHost composes it, with the real update checker against the real registry.
            using var checker = new UpdateChecker(options!.Registry, NullLogger<UpdateChecker>.Instance);
            var loop = AgentHost.CreateLoop(options, new OnlyThisProject(docker.Runtime(), project), checker, agentHttp,
                new ProcessRunner(), NullLoggerFactory.Instance, TimeProvider.System);
            agent = Task.Run(() => loop.RunAsync(stop.Token));

            var update = await WaitFor(admin, u => u.GetProperty("latestTag").GetString() == "1.0.1", "the update to 1.0.1 in the admin API");
            var deploy = await admin.PostAsync($"/api/v1/admin/updates/{update.GetProperty("id").GetString()}/deploy", null);
            deploy.StatusCode.ShouldBe(HttpStatusCode.Accepted);
            await WaitFor(admin, u => u.GetProperty("latestTag").GetString() == "1.0.1" && u.GetProperty("status").GetString() == "deployed", "1.0.1 deployed");

            (await RunningImage(project)).ShouldBe($"{repo}:1.0.1");
            (await File.ReadAllTextAsync(composeFile)).ShouldBe(original.Replace($"{repo}:1.0.0", $"{repo}:1.0.1", StringComparison.Ordinal));
            (await docker.RunIn(dir, "git", "log", "-1", "--format=%s")).ShouldBe("tiaki: update app from 1.0.0 to 1.0.1");

            await docker.PushAsync(repo, "1.0.2", "1.0.2", exitsAtOnce: true);
            (await admin.PostAsJsonAsync("/api/v1/admin/scans", new { })).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            var broken = await WaitFor(admin, u => u.GetProperty("latestTag").GetString() == "1.0.2" && u.GetProperty("status").GetString() == "pending", "the update to 1.0.2");
            (await admin.PostAsync($"/api/v1/admin/updates/{broken.GetProperty("id").GetString()}/deploy", null)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            await WaitFor(admin, u => u.GetProperty("latestTag").GetString() == "1.0.2" && u.GetProperty("status").GetString() == "failed", "1.0.2 failed");

            (await RunningImage(project)).ShouldBe($"{repo}:1.0.1");
            var audit = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/audit");
            var failure = audit.EnumerateArray().First(e => e.GetProperty("action").GetString() == "deploy.failed");
            failure.GetRawText().ShouldContain("exited with code 3");
            failure.GetRawText().ShouldContain("rolled back");
        }
        finally
        {
            await stop.CancelAsync();
            if (agent is not null) await Should.ThrowAsync<OperationCanceledException>(agent);
            await docker.RunIn(dir, "docker-compose", "-p", project, "down", "-t", "1");
        }
    }

    private async Task<JsonElement> WaitFor(HttpClient admin, Func<JsonElement, bool> match, string what)
    {
        for (var i = 0; i < 300; i++)
        {
            var all = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/updates");
            foreach (var u in all.EnumerateArray())
            {
                if (match(u)) return u;
            }
            await Task.Delay(200);
        }
        throw new ShouldAssertException($"never saw {what}");
    }

    private async Task<string> RunningImage(string project) =>
        (await docker.Client.Containers.ListContainersAsync(new global::Docker.DotNet.Models.ContainersListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"com.docker.compose.project={project}"] = true } },
        })).ShouldHaveSingleItem().Image;

    /// <summary>Other engineers run containers on the same engine: this agent only sees the test's project.</summary>
    private sealed class OnlyThisProject(IContainerRuntime inner, string project) : IContainerRuntime
    {
        public string AgentType => inner.AgentType;

        public async Task<IReadOnlyList<ScannedContainer>> ScanAsync(CancellationToken ct) =>
            (await inner.ScanAsync(ct)).Where(c => c.Report.ComposeProject == project).ToList();

        public Task<CommandOutcome> ExecuteAsync(AgentCommand command, ScannedContainer target, CancellationToken ct) => inner.ExecuteAsync(command, target, ct);
    }
}
