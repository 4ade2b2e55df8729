using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Tiaki.Agent.Kubernetes.Tests.Fake;

/// <summary>
/// The fake is only worth something if a real client believes it: these run the real kubectl
/// against it (TLS with certificate-authority-data and a bearer token from the kubeconfig).
/// </summary>
public sealed class KubectlCrossCheckTests : IAsyncLifetime
{
    private const string App = "127.0.0.1:5000/k8s/app";
    private FakeKubeApiServer _server = null!;
    private string _cache = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeKubeApiServer.StartAsync();
        _cache = Directory.CreateTempSubdirectory("tiaki-kubectl-cache-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_cache, recursive: true);
    }

    private async Task<(int Exit, string Out, string Err)> Kubectl(params string[] args)
    {
        var kubectl = new[] { "/usr/local/bin/kubectl", "/usr/bin/kubectl" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("kubectl is not installed: run ./scripts/test.sh on the prepared machine");
        var psi = new ProcessStartInfo(kubectl) { RedirectStandardOutput = true, RedirectStandardError = true };
        var verbose = Environment.GetEnvironmentVariable("TIAKI_KUBECTL_VERBOSITY") is { Length: > 0 } v ? new[] { "-v=" + v } : [];
        foreach (var a in new[] { "--kubeconfig", _server.KubeconfigPath, "--cache-dir", _cache, "--request-timeout", "20s" }.Concat(verbose).Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("KUBECONFIG");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {string.Join(' ', args)} did not finish in 60s: {await stderr}");
        }

        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task KubectlGetDeployAllNamespaces_FakeObjects_ListsThemAsJson()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0", replicas: 3));
        _server.Create(Objects.Deployment("ops", "tool", $"{App}:2.0.0"));

        var (exit, stdout, stderr) = await Kubectl("get", "deploy", "-A", "-o", "json");

        exit.ShouldBe(0, stderr);
        var list = JsonNode.Parse(stdout)!;
        list["items"]!.AsArray().Select(i => $"{i!["metadata"]!["namespace"]}/{i["metadata"]!["name"]}").ShouldBe(["ops/tool", "shop/web"]);
        var web = list["items"]!.AsArray().Single(i => i!["metadata"]!["name"]!.GetValue<string>() == "web")!;
        web["status"]!["availableReplicas"]!.GetValue<int>().ShouldBe(3);
    }

    [Fact]
    public async Task KubectlSetImageThenRolloutStatus_HealthyImage_RollsOutSuccessfully()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0", replicas: 2, sidecarImage: "nginx:1.25.3"));

        var set = await Kubectl("-n", "shop", "set", "image", "deployment/web", $"app={App}:1.1.0");
        var status = await Kubectl("-n", "shop", "rollout", "status", "deployment/web", "--timeout=30s");

        set.Exit.ShouldBe(0, set.Err);
        set.Out.ShouldContain("deployment.apps/web image updated");
        status.Exit.ShouldBe(0, status.Err);
        status.Out.ShouldContain("deployment \"web\" successfully rolled out");
        var web = _server.Get("deployments", "shop", "web")!;
        var containers = web["spec"]!["template"]!["spec"]!["containers"]!.AsArray();
        containers.Select(c => c!["image"]!.GetValue<string>()).ShouldBe([$"{App}:1.1.0", "nginx:1.25.3"]);
        web["metadata"]!["generation"]!.GetValue<long>().ShouldBe(2);
        _server.Pods("shop").ShouldAllBe(p => p["spec"]!["containers"]![0]!["image"]!.GetValue<string>() == $"{App}:1.1.0");
    }

    [Fact]
    public async Task KubectlRolloutStatus_ImageNeverStartsPastDeadline_ReportsExceededDeadline()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0", progressDeadlineSeconds: 1));
        _server.FailImage($"{App}:9.9.9", "ImagePullBackOff");

        (await Kubectl("-n", "shop", "set", "image", "deployment/web", $"app={App}:9.9.9")).Exit.ShouldBe(0);
        var status = await Kubectl("-n", "shop", "rollout", "status", "deployment/web", "--timeout=30s");

        status.Exit.ShouldNotBe(0);
        status.Err.ShouldContain("deployment \"web\" exceeded its progress deadline");
        var pods = await Kubectl("-n", "shop", "get", "pods", "-l", "app=web", "-o", "json");
        pods.Out.ShouldContain("ImagePullBackOff");
    }

    [Fact]
    public async Task KubectlRolloutStatus_StatefulSetAndDaemonSet_ReportSuccessAfterSetImage()
    {
        _server.Create(Objects.StatefulSet("data", "db", $"{App}:1.0.0", replicas: 2));
        _server.Create(Objects.DaemonSet("infra", "node", $"{App}:1.0.0"));

        (await Kubectl("-n", "data", "set", "image", "sts/db", $"app={App}:1.1.0")).Exit.ShouldBe(0);
        (await Kubectl("-n", "infra", "set", "image", "ds/node", $"app={App}:1.1.0")).Exit.ShouldBe(0);
        var sts = await Kubectl("-n", "data", "rollout", "status", "sts/db", "--timeout=30s");
        var ds = await Kubectl("-n", "infra", "rollout", "status", "ds/node", "--timeout=30s");

        sts.Exit.ShouldBe(0, sts.Err);
        sts.Out.ShouldContain("partitioned roll out complete: 2 new pods have been updated");
        ds.Exit.ShouldBe(0, ds.Err);
        ds.Out.ShouldContain("daemon set \"node\" successfully rolled out");
    }

    [Fact]
    public async Task KubectlPatch_JsonAndMergePatch_AppliedAsTheApiServerDoes()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));

        var json = await Kubectl("-n", "shop", "patch", "deployment", "web", "--type=json",
            "-p", """[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"127.0.0.1:5000/k8s/app:3.0.0"},{"op":"add","path":"/metadata/annotations","value":{"a":"b"}}]""");
        var merge = await Kubectl("-n", "shop", "patch", "deployment", "web", "--type=merge", "-p", """{"metadata":{"annotations":{"a":null,"c":"d"}}}""");
        var failedTest = await Kubectl("-n", "shop", "patch", "deployment", "web", "--type=json", "-p", """[{"op":"test","path":"/spec/replicas","value":7}]""");

        json.Exit.ShouldBe(0, json.Err);
        merge.Exit.ShouldBe(0, merge.Err);
        var web = _server.Get("deployments", "shop", "web")!;
        web["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>().ShouldBe($"{App}:3.0.0");
        web["metadata"]!["annotations"]!.ToJsonString().ShouldBe("""{"c":"d"}""");
        failedTest.Exit.ShouldNotBe(0);
        failedTest.Err.ShouldContain("is invalid");
    }

    [Fact]
    public async Task Kubectl_ForbiddenNotFoundAndUnauthorized_SeeTheRealServerErrors()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        _server.Deny("list", "deployments.apps");

        var forbidden = await Kubectl("get", "deploy", "-A");
        var notFound = await Kubectl("-n", "shop", "get", "sts", "missing");
        var unauthorized = await Kubectl("--token", "wrong", "get", "pods", "-A");

        forbidden.Exit.ShouldNotBe(0);
        forbidden.Err.ShouldContain($"deployments.apps is forbidden: User \"{FakeKubeApiServer.ServiceAccountUser}\" cannot list resource \"deployments\" in API group \"apps\" at the cluster scope");
        notFound.Exit.ShouldNotBe(0);
        notFound.Err.ShouldContain("statefulsets.apps \"missing\" not found");
        unauthorized.Exit.ShouldNotBe(0);
        unauthorized.Err.ShouldContain("Unauthorized");
    }

    [Fact]
    public async Task KubectlReplace_StaleResourceVersion_Conflicts()
    {
        _server.Create(Objects.Deployment("shop", "web", $"{App}:1.0.0"));
        var stale = (await Kubectl("-n", "shop", "get", "deploy", "web", "-o", "json")).Out;
        (await Kubectl("-n", "shop", "set", "image", "deployment/web", $"app={App}:1.1.0")).Exit.ShouldBe(0);
        var file = Path.Combine(_cache, "stale.json");
        await File.WriteAllTextAsync(file, stale);

        var replace = await Kubectl("replace", "--validate=false", "-f", file);

        replace.Exit.ShouldNotBe(0);
        replace.Err.ShouldContain("the object has been modified; please apply your changes to the latest version and try again");
    }
}
