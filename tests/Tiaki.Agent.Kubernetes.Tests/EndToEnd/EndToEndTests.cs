extern alias server;
using System.Collections;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using k8s;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tiaki.Agent.Core.Configuration;
using Tiaki.Agent.Core.Loop;
using Tiaki.Agent.Core.Processes;
using Tiaki.Agent.Core.Updates;
using Tiaki.Agent.Kubernetes.Runtime;
using Tiaki.Agent.Kubernetes.Tests.Fake;
using Tiaki.Testing.Registry;

namespace Tiaki.Agent.Kubernetes.Tests.EndToEnd;

/// <summary>
/// The real control plane (in-process, SQLite) driving the agent loop as <c>tiaki-agent-k8s run</c>
/// composes it, over the fake Kubernetes API server, with update checks against the real registry.
/// </summary>
public sealed class EndToEndTests : IAsyncLifetime
{
    private const string AdminToken = "tk8s-admin-token-0123456789abcdef0123";
    private readonly string data = Directory.CreateTempSubdirectory("tk8s-e2e-").FullName;
    private ControlPlane control = null!;
    private FakeKubeApiServer cluster = null!;

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

    public async Task InitializeAsync()
    {
        control = new ControlPlane(data);
        _ = control.Server;
        cluster = await FakeKubeApiServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await cluster.DisposeAsync();
        await control.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(data, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Agent_DeploymentUpdateDeployedThenFailingRolloutRolledBack_ThroughTheControlPlane()
    {
        var registry = TestServices.SharedRegistry;
        var repository = $"k8s-e2e/app-{Guid.NewGuid().ToString("N")[..10]}";
        var image = $"{registry}/{repository}";
        using var pusher = new ImagePusher(registry);
        // The kubelet reports the digest it pulled; the fake cluster must report the registry's.
        cluster.SetDigest($"{image}:1.0.0", await pusher.PushImageAsync(repository, "1.0.0", new ImageSpec { DockerMediaTypes = true }));
        cluster.Create(Objects.Deployment("shop", "web", $"{image}:1.0.0"));

        var admin = control.CreateClient();
        var login = await admin.PostAsJsonAsync("/api/v1/auth/login", new { token = AdminToken });
        login.EnsureSuccessStatusCode();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString());
        var enrollment = await admin.PostAsJsonAsync("/api/v1/admin/enrollment-tokens", new { });
        var token = (await enrollment.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        cluster.SetDigest($"{image}:1.0.1", await pusher.PushImageAsync(repository, "1.0.1", new ImageSpec { DockerMediaTypes = true }));

        using var stop = new CancellationTokenSource();
        var agent = StartAgent(token, registry, stop.Token);
        try
        {
            var update = await WaitFor(admin, u => u.GetProperty("latestTag").GetString() == "1.0.1", "the update 1.0.0 -> 1.0.1 in the admin API");
            update.GetProperty("currentTag").GetString().ShouldBe("1.0.0");
            var deploy = await admin.PostAsync($"/api/v1/admin/updates/{update.GetProperty("id").GetString()}/deploy", null);
            deploy.StatusCode.ShouldBe(HttpStatusCode.Accepted);
            await WaitFor(admin, u => u.GetProperty("latestTag").GetString() == "1.0.1" && u.GetProperty("status").GetString() == "deployed", "1.0.1 deployed");

            WorkloadImage().ShouldBe($"{image}:1.0.1");
            cluster.Pods("shop").ShouldAllBe(p => p["spec"]!["containers"]![0]!["image"]!.GetValue<string>() == $"{image}:1.0.1");

            // A release whose pods never pull: the rollout fails with the pod's reason and the agent goes back.
            await pusher.PushImageAsync(repository, "1.0.2", new ImageSpec { DockerMediaTypes = true });
            cluster.FailImage($"{image}:1.0.2", "ImagePullBackOff");
            (await admin.PostAsJsonAsync("/api/v1/admin/scans", new { })).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            var broken = await WaitFor(admin, u => u.GetProperty("latestTag").GetString() == "1.0.2" && u.GetProperty("status").GetString() == "pending", "the update to 1.0.2");
            (await admin.PostAsync($"/api/v1/admin/updates/{broken.GetProperty("id").GetString()}/deploy", null)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            await WaitFor(admin, u => u.GetProperty("latestTag").GetString() == "1.0.2" && u.GetProperty("status").GetString() == "failed", "1.0.2 failed");

            WorkloadImage().ShouldBe($"{image}:1.0.1");
            var audit = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/audit");
            var failure = audit.EnumerateArray().First(e => e.GetProperty("action").GetString() == "deploy.failed");
            failure.GetRawText().ShouldContain("ImagePullBackOff");
        }
        finally
        {
            await stop.CancelAsync();
            await Should.ThrowAsync<OperationCanceledException>(agent);
        }
    }

    /// <summary>The agent as <c>run</c> builds it (settings → runtime → update checker → loop), with short intervals.</summary>
    private Task StartAgent(string enrollmentToken, string registry, CancellationToken stop)
    {
        var (options, errors) = AgentOptions.FromEnvironment(new Hashtable
        {
            ["CONTROL_URL"] = "http://localhost",
            ["TIAKI_ENROLLMENT_TOKEN"] = enrollmentToken,
            ["AGENT_NAME"] = "tk8s-e2e",
            ["AGENT_STATE_DIR"] = Path.Combine(data, "agent"),
            ["SCAN_INTERVAL"] = "10m",
            ["HEALTH_TIMEOUT"] = "2s",
            ["REGISTRY_INSECURE"] = registry,
        });
        errors.ShouldBeEmpty();
        var (k8sOptions, k8sErrors) = KubernetesRuntimeOptions.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["WATCH_NAMESPACES"] = "shop",
            ["ROLLOUT_POLL_INTERVAL"] = "0.05s",
            ["ROLLOUT_TIMEOUT"] = "20s",
            ["AGENT_NAME"] = "tk8s-e2e",
        }).Build());
        k8sErrors.ShouldBeEmpty();
        ILoggerFactory loggers = NullLoggerFactory.Instance;
        var runtime = KubernetesRuntimeFactory.Create(KubernetesClientConfiguration.BuildConfigFromConfigFile(cluster.KubeconfigPath), k8sOptions!, loggers, TimeProvider.System);
        var checker = new UpdateChecker(options!.Registry, NullLogger<UpdateChecker>.Instance);
        var http = control.CreateClient();
        http.Timeout = Timeout.InfiniteTimeSpan;
        var loop = AgentHost.CreateLoop(options, runtime, checker, http, new ProcessRunner(), loggers, TimeProvider.System);
        return Task.Run(async () =>
        {
            try
            {
                await loop.RunAsync(stop);
            }
            finally
            {
                checker.Dispose();
                http.Dispose();
            }
        }, CancellationToken.None);
    }

    private string WorkloadImage() =>
        cluster.Get("deployments", "shop", "web")!["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>();

    private static async Task<JsonElement> WaitFor(HttpClient admin, Func<JsonElement, bool> match, string what)
    {
        for (var i = 0; i < 300; i++)
        {
            var all = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/updates");
            foreach (var u in all.EnumerateArray())
            {
                if (match(u)) return u;
            }
            await Task.Delay(100);
        }
        throw new ShouldAssertException($"never saw {what}");
    }
}
