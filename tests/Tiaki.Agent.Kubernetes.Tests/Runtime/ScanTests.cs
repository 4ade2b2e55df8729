using Tiaki.Agent.Kubernetes.Runtime;
using Tiaki.Agent.Kubernetes.Tests.Fake;
using static Tiaki.Agent.Kubernetes.Tests.Runtime.RuntimeHarness;

namespace Tiaki.Agent.Kubernetes.Tests.Runtime;

public sealed class ScanTests : IAsyncLifetime
{
    private const string App = "127.0.0.1:5000/k8s/app";
    private FakeKubeApiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeKubeApiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ScanAsync_AllFourWorkloadKinds_ReportsEveryContainerWithNamespaceKindAndRunningDigest()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0", sidecarImage: "nginx:1.25.3", initImage: $"{App}-migrate:1.0.0",
            annotations: new Dictionary<string, string> { ["tiaki.dev/update"] = "minor", ["tiaki.dev/tag.include"] = "^1\\.", ["team"] = "shop" }));
        _server.Create(Objects.StatefulSet("data", "db", "postgres:16.2"));
        _server.Create(Objects.DaemonSet("kube-system", "agent", "ghcr.io/org/node-agent:2.3.4"));
        _server.Create(Objects.CronJob("ops", "backup", $"{App}-backup:0.9.0"));
        var backupId = $"{App}-backup@sha256:{new string('b', 64)}";
        _server.Create(Objects.CronJobPod("ops", "backup", $"{App}-backup:0.9.0", backupId));

        var scanned = await NewRuntime(_server).ScanAsync(CancellationToken.None);

        scanned.Select(s => s.Report.ContainerId).Order().ShouldBe(
        [
            "cronjob/ops/backup/app",
            "daemonset/kube-system/agent/app",
            "deployment/shop/web/app",
            "deployment/shop/web/migrate",
            "deployment/shop/web/sidecar",
            "statefulset/data/db/app",
        ]);

        var app = scanned.Single(s => s.Report.ContainerId == "deployment/shop/web/app");
        app.Report.Namespace.ShouldBe("shop");
        app.Report.Workload.ShouldBe("Deployment");
        app.Report.Image.ShouldBe(App);
        app.Report.Tag.ShouldBe("1.0.0");
        app.Report.Digest.ShouldBe(_server.DigestOf($"{App}:1.0.0"));
        app.ImageReference.ShouldBe($"{App}:1.0.0");
        app.RepoDigests.ShouldBe([$"{App}@{_server.DigestOf($"{App}:1.0.0")}"]);
        // Policy annotations reach the update detection; unrelated annotations do not.
        app.Labels.ShouldBe(new Dictionary<string, string> { ["tiaki.dev/update"] = "minor", ["tiaki.dev/tag.include"] = "^1\\." });

        var init = scanned.Single(s => s.Report.ContainerId == "deployment/shop/web/migrate");
        init.Report.Image.ShouldBe($"{App}-migrate");
        init.Report.Digest.ShouldBe(_server.DigestOf($"{App}-migrate:1.0.0"));

        var sidecar = scanned.Single(s => s.Report.ContainerId == "deployment/shop/web/sidecar");
        (sidecar.Report.Image, sidecar.Report.Tag).ShouldBe(("nginx", "1.25.3"));
        sidecar.RepoDigests.ShouldBe([$"docker.io/library/nginx@{_server.DigestOf("nginx:1.25.3")}"]);

        scanned.Single(s => s.Report.ContainerId == "statefulset/data/db/app").Report.Workload.ShouldBe("StatefulSet");
        var ds = scanned.Single(s => s.Report.ContainerId == "daemonset/kube-system/agent/app");
        (ds.Report.Image, ds.Report.Tag, ds.Report.Digest).ShouldBe(("ghcr.io/org/node-agent", "2.3.4", _server.DigestOf("ghcr.io/org/node-agent:2.3.4")));
        var cron = scanned.Single(s => s.Report.ContainerId == "cronjob/ops/backup/app");
        (cron.Report.Workload, cron.Report.Digest).ShouldBe(("CronJob", $"sha256:{new string('b', 64)}"));
    }

    [Fact]
    public async Task ScanAsync_WorkloadAnnotatedEnableFalse_IsNotReported()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        _server.Create(Objects.Deployment("shop", "legacy", $"{App}:0.1.0", annotations: new Dictionary<string, string> { ["tiaki.dev/enable"] = "false" }));

        var scanned = await NewRuntime(_server).ScanAsync(CancellationToken.None);

        scanned.Select(s => s.Report.ContainerId).ShouldBe(["deployment/shop/web/app"]);
    }

    [Fact]
    public async Task ScanAsync_WatchNamespacesSet_ReadsOnlyThoseNamespaces()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        _server.Create(Objects.Deployment("other", "web", $"{App}:1.0.0"));
        _server.Create(Objects.Deployment("ops", "tool", $"{App}:1.0.0"));

        var scanned = await NewRuntime(_server, namespaces: ["shop", "ops"]).ScanAsync(CancellationToken.None);

        scanned.Select(s => s.Report.ContainerId).Order().ShouldBe(["deployment/ops/tool/app", "deployment/shop/web/app"]);
        // Namespaced RBAC grants no cluster-wide list: the agent must not even try one.
        _server.Requests.Where(r => r.Method == "GET").ShouldAllBe(r => r.Path.Contains("/namespaces/shop/") || r.Path.Contains("/namespaces/ops/"));
    }

    [Fact]
    public async Task ScanAsync_PodNotYetRunningNewImage_ReportsDigestOfPodsRunningTheSpecImageOnly()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        _server.FailImage($"{App}:2.0.0", "ImagePullBackOff");
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        http.DefaultRequestHeaders.Authorization = new("Bearer", _server.Token);
        var patch = new StringContent("""{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"127.0.0.1:5000/k8s/app:2.0.0"}]}}}}""");
        patch.Headers.ContentType = new("application/strategic-merge-patch+json");
        (await http.PatchAsync($"{_server.Url}/apis/apps/v1/namespaces/shop/deployments/web", patch)).EnsureSuccessStatusCode();
        await WaitUntil(() => _server.Pods("shop").Any(p => p.ToJsonString().Contains("ImagePullBackOff")));

        var app = await Find(NewRuntime(_server), "deployment/shop/web/app");

        // The new pods pulled nothing yet; the old ones run 1.0.0, which is not what the spec says: no digest is better than a wrong one.
        (app.Report.Tag, app.Report.Digest).ShouldBe(("2.0.0", ""));
    }

    [Fact]
    public async Task ScanAsync_ListForbiddenEverywhere_ThrowsWithTheDeniedCalls()
    {
        foreach (var resource in new[] { "deployments.apps", "statefulsets.apps", "daemonsets.apps", "cronjobs.batch", "pods" })
        {
            _server.Deny("list", resource);
        }

        var e = await Should.ThrowAsync<KubernetesAccessDeniedException>(() => NewRuntime(_server).ScanAsync(CancellationToken.None));

        e.Message.ShouldContain("RBAC denied");
        e.Message.ShouldContain("list deployments.apps in all namespaces");
        e.Message.ShouldContain("WATCH_NAMESPACES");
    }

    [Fact]
    public async Task ScanAsync_OneKindForbidden_StillReportsTheOthers()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        _server.Create(Objects.StatefulSet("shop", "db", "postgres:16.2"));
        _server.Deny("list", "statefulsets.apps");

        var scanned = await NewRuntime(_server).ScanAsync(CancellationToken.None);

        scanned.Select(s => s.Report.ContainerId).ShouldBe(["deployment/shop/web/app"]);
    }

    [Fact]
    public async Task ScanAsync_WrongToken_FailsWithUnauthorized()
    {
        var e = await Should.ThrowAsync<k8s.Autorest.HttpOperationException>(() => NewRuntime(_server, token: "not-the-token").ScanAsync(CancellationToken.None));

        e.Response.StatusCode.ShouldBe(System.Net.HttpStatusCode.Unauthorized);
    }

    internal static async Task WaitUntil(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(20, cts.Token);
        }
    }
}
