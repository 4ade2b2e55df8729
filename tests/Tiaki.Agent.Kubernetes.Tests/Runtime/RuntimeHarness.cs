using k8s;
using Microsoft.Extensions.Logging.Abstractions;
using Tiaki.Agent.Core.Runtime;
using Tiaki.Agent.Kubernetes.Runtime;
using Tiaki.Agent.Kubernetes.Tests.Fake;
using Tiaki.Contracts;

namespace Tiaki.Agent.Kubernetes.Tests.Runtime;

internal static class RuntimeHarness
{
    /// <summary>The runtime as the agent builds it: from a kubeconfig (CA data + bearer token), with short rollout polls.</summary>
    public static KubernetesRuntime NewRuntime(FakeKubeApiServer server, IReadOnlyList<string>? namespaces = null, TimeSpan? timeout = null, string? token = null)
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(server.KubeconfigPath);
        if (token is not null)
        {
            config.AccessToken = token;
        }

        var options = new KubernetesRuntimeOptions
        {
            WatchNamespaces = namespaces ?? [],
            RolloutPollInterval = TimeSpan.FromMilliseconds(50),
            RolloutTimeout = timeout ?? TimeSpan.FromSeconds(30),
            AgentName = "tiaki-agent-k8s-test",
        };
        return KubernetesRuntimeFactory.Create(config, options, NullLoggerFactory.Instance, TimeProvider.System);
    }

    public static AgentCommand Deploy(string image, string tag) =>
        new("cmd-" + Guid.NewGuid().ToString("N")[..8], "upd-1", image, tag, null, null) { Type = CommandTypes.Deploy };

    public static AgentCommand Rollback(string? previousTag) =>
        new("cmd-" + Guid.NewGuid().ToString("N")[..8], null, null, null, null, null) { Type = CommandTypes.Rollback, PreviousTag = previousTag };

    public static async Task<ScannedContainer> Find(KubernetesRuntime runtime, string containerId)
    {
        var scanned = await runtime.ScanAsync(CancellationToken.None);
        return scanned.SingleOrDefault(s => s.Report.ContainerId == containerId)
            ?? throw new InvalidOperationException($"{containerId} not in scan: {string.Join(", ", scanned.Select(s => s.Report.ContainerId))}");
    }
}
