using Tiaki.Agent.Kubernetes.Tests.Fake;
using static Tiaki.Agent.Kubernetes.Tests.Runtime.RuntimeHarness;

namespace Tiaki.Agent.Kubernetes.Tests.Packaging;

internal static class AgentCalls
{
    /// <summary>
    /// Runs everything the agent does (scan; deploy that succeeds; deploy that fails and is rolled
    /// back; rollback command; every workload kind; a workload's imagePullSecrets) against the fake API server and returns the
    /// calls the API server had to authorize. RBAC is checked against this, not against a list
    /// someone typed.
    /// </summary>
    public static async Task<List<(string Group, string Resource, string Verb, string? Namespace)>> ObserveAsync(IReadOnlyList<string>? namespaces)
    {
        const string app = "127.0.0.1:5000/k8s/app";
        await using var server = await FakeKubeApiServer.StartAsync();
        server.Create(Objects.PullSecret("shop", "regcred", "127.0.0.1:5000", "robot", "not-a-real-password"));
        server.Create(Objects.Deployment("shop", "web", $"{app}:1.0.0", initImage: $"{app}-migrate:1.0.0", pullSecrets: ["regcred"]));
        server.Create(Objects.StatefulSet("shop", "db", $"{app}:1.0.0"));
        server.Create(Objects.DaemonSet("ops", "node", $"{app}:1.0.0"));
        server.Create(Objects.CronJob("ops", "backup", $"{app}:1.0.0"));
        server.FailImage($"{app}:6.6.6", "CrashLoopBackOff");
        var runtime = NewRuntime(server, namespaces);

        var scanned = await runtime.ScanAsync(CancellationToken.None);
        scanned.Count.ShouldBe(5);
        scanned.Where(c => c.RegistryCredentials is { Count: 1 }).Select(c => c.Report.ContainerId).ShouldBe(["deployment/shop/web/migrate", "deployment/shop/web/app"], ignoreOrder: true);
        (await runtime.ExecuteAsync(Deploy(app, "1.1.0"), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None)).Success.ShouldBeTrue();
        (await runtime.ExecuteAsync(Deploy($"{app}-migrate", "1.1.0"), await Find(runtime, "deployment/shop/web/migrate"), CancellationToken.None)).Success.ShouldBeTrue();
        (await runtime.ExecuteAsync(Rollback(null), await Find(runtime, "deployment/shop/web/app"), CancellationToken.None)).Success.ShouldBeTrue();
        (await runtime.ExecuteAsync(Deploy(app, "6.6.6"), await Find(runtime, "statefulset/shop/db/app"), CancellationToken.None)).Success.ShouldBeFalse();
        (await runtime.ExecuteAsync(Deploy(app, "1.1.0"), await Find(runtime, "daemonset/ops/node/app"), CancellationToken.None)).Success.ShouldBeTrue();
        (await runtime.ExecuteAsync(Deploy(app, "1.1.0"), await Find(runtime, "cronjob/ops/backup/app"), CancellationToken.None)).Success.ShouldBeTrue();
        return [.. server.Calls];
    }
}
