using k8s;
using Microsoft.Extensions.Logging;

namespace Tiaki.Agent.Kubernetes.Runtime;

internal static class KubernetesRuntimeFactory
{
    /// <summary>
    /// In a pod, the service account the Helm chart binds; elsewhere KUBECONFIG or ~/.kube/config,
    /// which is how users try the agent from a laptop.
    /// </summary>
    public static KubernetesRuntime Create(KubernetesRuntimeOptions options, ILoggerFactory loggers, TimeProvider time)
    {
        var config = KubernetesClientConfiguration.IsInCluster()
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile(Environment.GetEnvironmentVariable("KUBECONFIG"));
        return Create(config, options, loggers, time);
    }

    public static KubernetesRuntime Create(KubernetesClientConfiguration config, KubernetesRuntimeOptions options, ILoggerFactory loggers, TimeProvider time) =>
        new(new k8s.Kubernetes(config), options, time, loggers.CreateLogger<KubernetesRuntime>());
}
