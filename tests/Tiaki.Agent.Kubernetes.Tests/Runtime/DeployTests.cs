using System.Text.Json.Nodes;
using Tiaki.Agent.Kubernetes.Runtime;
using Tiaki.Agent.Kubernetes.Tests.Fake;
using static Tiaki.Agent.Kubernetes.Tests.Runtime.RuntimeHarness;

namespace Tiaki.Agent.Kubernetes.Tests.Runtime;

public sealed class DeployTests : IAsyncLifetime
{
    private const string App = "127.0.0.1:5000/k8s/app";
    private FakeKubeApiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeKubeApiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static string Image(JsonObject w, string container, string list = "containers") =>
        w["spec"]!["template"]!["spec"]![list]!.AsArray().Single(c => c!["name"]!.GetValue<string>() == container)!["image"]!.GetValue<string>();

    [Fact]
    public async Task ExecuteAsync_DeployHealthyImage_PatchesOnlyThatContainerWaitsForRolloutAndRecordsAnnotations()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0", replicas: 3, sidecarImage: "nginx:1.25.3"));
        var runtime = NewRuntime(_server);
        var target = await Find(runtime, "deployment/shop/web/app");
        var command = Deploy(App, "1.1.0");

        var outcome = await runtime.ExecuteAsync(command, target, CancellationToken.None);

        outcome.Success.ShouldBeTrue(outcome.Error);
        var web = _server.Get("deployments", "shop", "web")!;
        Image(web, "app").ShouldBe($"{App}:1.1.0");
        Image(web, "sidecar").ShouldBe("nginx:1.25.3");
        // The rest of the container survives the patch (strategic merge by name, not a replace).
        web["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]![0]!["value"]!.GetValue<string>().ShouldBe("production");
        var annotations = web["metadata"]!["annotations"]!;
        annotations[KubernetesRuntime.PreviousImageAnnotation]!.GetValue<string>().ShouldBe($"app={App}:1.0.0");
        annotations[KubernetesRuntime.UpdatedByAnnotation]!.GetValue<string>().ShouldBe("tiaki-agent-k8s-test");
        annotations[KubernetesRuntime.LastActionAnnotation]!.GetValue<string>().ShouldContain(command.CommandId);
        DateTimeOffset.Parse(annotations[KubernetesRuntime.UpdatedAtAnnotation]!.GetValue<string>()).ShouldBeInRange(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));

        // Returned only once the rollout was complete: every pod runs the new image.
        _server.Pods("shop").Count.ShouldBe(3);
        _server.Pods("shop").ShouldAllBe(p => p["spec"]!["containers"]![0]!["image"]!.GetValue<string>() == $"{App}:1.1.0");
        var patch = _server.Requests.Single(r => r.Method == "PATCH");
        patch.ContentType.ShouldStartWith("application/strategic-merge-patch+json");
        patch.Body.ShouldNotContain("nginx");

        var after = await Find(runtime, "deployment/shop/web/app");
        (after.Report.Tag, after.Report.Digest).ShouldBe(("1.1.0", _server.DigestOf($"{App}:1.1.0")));
    }

    [Fact]
    public async Task ExecuteAsync_ImagePullBackOff_RollsBackAndReportsThePodReason()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        _server.FailImage($"{App}:1.1.0", "ImagePullBackOff");
        var runtime = NewRuntime(_server);

        var outcome = await runtime.ExecuteAsync(Deploy(App, "1.1.0"), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None);

        outcome.Success.ShouldBeFalse();
        outcome.Error.ShouldNotBeNull();
        outcome.Error.ShouldStartWith("ImagePullBackOff");
        outcome.Error.ShouldContain($"Back-off pulling image \"{App}:1.1.0\"");
        outcome.Error.ShouldContain($"rolled back to {App}:1.0.0");
        var web = _server.Get("deployments", "shop", "web")!;
        Image(web, "app").ShouldBe($"{App}:1.0.0");
        web["metadata"]!["annotations"]![KubernetesRuntime.LastActionAnnotation]!.GetValue<string>().ShouldContain("automatic rollback");
        // The failing pods are gone and the workload serves on the old image again.
        _server.Pods("shop").ShouldAllBe(p => p["spec"]!["containers"]![0]!["image"]!.GetValue<string>() == $"{App}:1.0.0");
        web["status"]!["availableReplicas"]!.GetValue<int>().ShouldBe(2);
    }

    [Fact]
    public async Task ExecuteAsync_RollbackAfterAutomaticRollback_GoesToTheImageBeforeTheFailedDeployNotTheFailedOne()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        _server.FailImage($"{App}:6.6.6", "ImagePullBackOff");
        var runtime = NewRuntime(_server);
        (await runtime.ExecuteAsync(Deploy(App, "1.1.0"), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None)).Success.ShouldBeTrue();
        (await runtime.ExecuteAsync(Deploy(App, "6.6.6"), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None)).Success.ShouldBeFalse();

        var outcome = await runtime.ExecuteAsync(Rollback(previousTag: null), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None);

        outcome.Success.ShouldBeTrue(outcome.Error);
        Image(_server.Get("deployments", "shop", "web")!, "app").ShouldBe($"{App}:1.0.0");
    }

    [Fact]
    public async Task ExecuteAsync_StatefulSetCrashLoopBackOff_RollsBackAndReportsReason()
    {
        _server.Create(Objects.StatefulSet("data", "db", $"{App}:1.0.0", replicas: 3));
        _server.FailImage($"{App}:1.1.0", "CrashLoopBackOff");
        var runtime = NewRuntime(_server);

        var outcome = await runtime.ExecuteAsync(Deploy(App, "1.1.0"), await Find(runtime, "statefulset/data/db/app"), CancellationToken.None);

        outcome.Success.ShouldBeFalse();
        outcome.Error!.ShouldStartWith("CrashLoopBackOff: pod db-2 container app");
        Image(_server.Get("statefulsets", "data", "db")!, "app").ShouldBe($"{App}:1.0.0");
        _server.Pods("data").Select(p => p["metadata"]!["name"]!.GetValue<string>()).Order().ShouldBe(["db-0", "db-1", "db-2"]);
        _server.Pods("data").ShouldAllBe(p => p["spec"]!["containers"]![0]!["image"]!.GetValue<string>() == $"{App}:1.0.0");
    }

    [Fact]
    public async Task ExecuteAsync_StatefulSetAndDaemonSetHealthyImage_RollOutEveryPod()
    {
        _server.Create(Objects.StatefulSet("data", "db", $"{App}:1.0.0", replicas: 3));
        _server.Create(Objects.DaemonSet("infra", "node", $"{App}:1.0.0"));
        var runtime = NewRuntime(_server);

        var sts = await runtime.ExecuteAsync(Deploy(App, "1.2.0"), await Find(runtime, "statefulset/data/db/app"), CancellationToken.None);
        var ds = await runtime.ExecuteAsync(Deploy(App, "1.2.0"), await Find(runtime, "daemonset/infra/node/app"), CancellationToken.None);

        sts.Success.ShouldBeTrue(sts.Error);
        ds.Success.ShouldBeTrue(ds.Error);
        _server.Pods("data").Concat(_server.Pods("infra")).Count().ShouldBe(3 + _server.Nodes);
        _server.Pods("data").Concat(_server.Pods("infra")).ShouldAllBe(p => p["spec"]!["containers"]![0]!["image"]!.GetValue<string>() == $"{App}:1.2.0");
        var status = _server.Get("statefulsets", "data", "db")!["status"]!;
        status["currentRevision"]!.GetValue<string>().ShouldBe(status["updateRevision"]!.GetValue<string>());
    }

    [Fact]
    public async Task ExecuteAsync_PodsNeverStartBeforeProgressDeadline_RollsBackWithDeadlineReason()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0", progressDeadlineSeconds: 1));
        _server.FailImage($"{App}:1.1.0", "ContainerCreating");
        var runtime = NewRuntime(_server);

        var outcome = await runtime.ExecuteAsync(Deploy(App, "1.1.0"), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None);

        outcome.Success.ShouldBeFalse();
        outcome.Error!.ShouldStartWith("ProgressDeadlineExceeded");
        outcome.Error.ShouldContain("has timed out progressing");
        Image(_server.Get("deployments", "shop", "web")!, "app").ShouldBe($"{App}:1.0.0");
    }

    [Fact]
    public async Task ExecuteAsync_RolloutLongerThanAgentTimeout_RollsBack()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        _server.FailImage($"{App}:1.1.0", "ContainerCreating");
        var runtime = NewRuntime(_server, timeout: TimeSpan.FromMilliseconds(400));

        var outcome = await runtime.ExecuteAsync(Deploy(App, "1.1.0"), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None);

        outcome.Success.ShouldBeFalse();
        outcome.Error!.ShouldContain("rollout did not complete within 0.4s");
        Image(_server.Get("deployments", "shop", "web")!, "app").ShouldBe($"{App}:1.0.0");
    }

    [Fact]
    public async Task ExecuteAsync_PatchForbiddenByRbac_FailsNamingTheMissingPermission()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        _server.Deny("patch", "deployments.apps", "shop");
        var runtime = NewRuntime(_server);

        var outcome = await runtime.ExecuteAsync(Deploy(App, "1.1.0"), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None);

        outcome.Success.ShouldBeFalse();
        outcome.Error!.ShouldStartWith("Kubernetes RBAC denied the agent");
        outcome.Error.ShouldContain($"User \"{FakeKubeApiServer.ServiceAccountUser}\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"shop\"");
        outcome.Error.ShouldContain("patch on deployments.apps in namespace shop");
        Image(_server.Get("deployments", "shop", "web")!, "app").ShouldBe($"{App}:1.0.0");
    }

    [Fact]
    public async Task ExecuteAsync_InitContainer_PatchesInitContainersOnly()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0", initImage: $"{App}-migrate:1.0.0"));
        var runtime = NewRuntime(_server);

        var outcome = await runtime.ExecuteAsync(Deploy($"{App}-migrate", "1.0.1"), await Find(runtime, "deployment/shop/web/migrate"), CancellationToken.None);

        outcome.Success.ShouldBeTrue(outcome.Error);
        var web = _server.Get("deployments", "shop", "web")!;
        Image(web, "migrate", "initContainers").ShouldBe($"{App}-migrate:1.0.1");
        Image(web, "app").ShouldBe($"{App}:1.0.0");
    }

    [Fact]
    public async Task ExecuteAsync_CronJob_PatchesJobTemplateWithoutWaiting()
    {
        _server.Create(Objects.CronJob("ops", "backup", $"{App}:1.0.0"));
        var runtime = NewRuntime(_server);

        var outcome = await runtime.ExecuteAsync(Deploy(App, "1.0.1"), await Find(runtime, "cronjob/ops/backup/app"), CancellationToken.None);

        outcome.Success.ShouldBeTrue(outcome.Error);
        outcome.Log.ShouldContain("next Job");
        _server.Get("cronjobs", "ops", "backup")!["spec"]!["jobTemplate"]!["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>()
            .ShouldBe($"{App}:1.0.1");
    }

    [Fact]
    public async Task ExecuteAsync_RollbackWithoutTag_GoesBackToRecordedPreviousImage()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        var runtime = NewRuntime(_server);
        (await runtime.ExecuteAsync(Deploy(App, "1.1.0"), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None)).Success.ShouldBeTrue();

        var outcome = await runtime.ExecuteAsync(Rollback(previousTag: null), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None);

        outcome.Success.ShouldBeTrue(outcome.Error);
        var web = _server.Get("deployments", "shop", "web")!;
        Image(web, "app").ShouldBe($"{App}:1.0.0");
        web["metadata"]!["annotations"]![KubernetesRuntime.PreviousImageAnnotation]!.GetValue<string>().ShouldBe($"app={App}:1.1.0");
        web["metadata"]!["annotations"]![KubernetesRuntime.LastActionAnnotation]!.GetValue<string>().ShouldStartWith("rollback");
    }

    [Fact]
    public async Task ExecuteAsync_RollbackAfterAnotherContainerChanged_RestoresThisContainersPreviousImage()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0", sidecarImage: "nginx:1.25.3"));
        var runtime = NewRuntime(_server);
        (await runtime.ExecuteAsync(Deploy(App, "1.1.0"), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None)).Success.ShouldBeTrue();
        (await runtime.ExecuteAsync(Deploy("nginx", "1.25.4"), await Find(runtime, "deployment/shop/web/sidecar"), CancellationToken.None)).Success.ShouldBeTrue();

        var outcome = await runtime.ExecuteAsync(Rollback(previousTag: null), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None);

        outcome.Success.ShouldBeTrue(outcome.Error);
        var web = _server.Get("deployments", "shop", "web")!;
        (Image(web, "app"), Image(web, "sidecar")).ShouldBe(($"{App}:1.0.0", "nginx:1.25.4"));
    }

    [Fact]
    public async Task ExecuteAsync_RollbackWithTag_DeploysThatTag()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.1.0"));
        var runtime = NewRuntime(_server);

        var outcome = await runtime.ExecuteAsync(Rollback("1.0.0"), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None);

        outcome.Success.ShouldBeTrue(outcome.Error);
        Image(_server.Get("deployments", "shop", "web")!, "app").ShouldBe($"{App}:1.0.0");
    }

    [Fact]
    public async Task ExecuteAsync_CommandForAnotherRepository_RefusesWithoutPatching()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        var runtime = NewRuntime(_server);

        var outcome = await runtime.ExecuteAsync(Deploy("docker.io/library/redis", "7.2"), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None);

        outcome.Success.ShouldBeFalse();
        outcome.Error!.ShouldContain("runs 127.0.0.1:5000/k8s/app");
        _server.Requests.ShouldNotContain(r => r.Method == "PATCH");
    }

    [Fact]
    public async Task ExecuteAsync_WorkloadDeletedSinceScan_FailsWithNotFound()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        var runtime = NewRuntime(_server);
        var target = await Find(runtime, "deployment/shop/web/app");
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        http.DefaultRequestHeaders.Authorization = new("Bearer", _server.Token);
        (await http.DeleteAsync($"{_server.Url}/apis/apps/v1/namespaces/shop/deployments/web")).EnsureSuccessStatusCode();

        var outcome = await runtime.ExecuteAsync(Deploy(App, "1.1.0"), target, CancellationToken.None);

        outcome.Success.ShouldBeFalse();
        outcome.Error.ShouldBe("Deployment shop/web not found: deployments.apps \"web\" not found");
    }
}
