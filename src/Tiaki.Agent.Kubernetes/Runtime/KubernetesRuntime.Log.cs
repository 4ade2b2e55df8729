using Microsoft.Extensions.Logging;

namespace Tiaki.Agent.Kubernetes.Runtime;

internal sealed partial class KubernetesRuntime
{
    [LoggerMessage(1, LogLevel.Warning, "Kubernetes RBAC denied: {What}: {Message}")]
    private partial void LogListDenied(string what, string message);

    [LoggerMessage(2, LogLevel.Information, "Scanned {Count} workload containers in {Scopes} namespace scope(s)")]
    private partial void LogScanned(int count, int scopes);

    [LoggerMessage(3, LogLevel.Information, "{Action}: {Kind} {Namespace}/{Name} container {Container}: {From} -> {To}")]
    private partial void LogChanging(string action, WorkloadKind kind, string @namespace, string name, string container, string from, string to);

    [LoggerMessage(4, LogLevel.Information, "{Kind} {Namespace}/{Name} rolled out {Image}")]
    private partial void LogRolledOut(WorkloadKind kind, string @namespace, string name, string image);

    [LoggerMessage(5, LogLevel.Warning, "{Kind} {Namespace}/{Name}: rollout of {Image} failed ({Reason}); rolling back")]
    private partial void LogRolloutFailed(WorkloadKind kind, string @namespace, string name, string image, string reason);

    [LoggerMessage(6, LogLevel.Error, "{Kind} {Namespace}/{Name}: {Message}")]
    private partial void LogApiError(WorkloadKind kind, string @namespace, string name, string message);

    [LoggerMessage(7, LogLevel.Warning, "Image pull secret {Namespace}/{Name} not used for update checks: {Reason}")]
    private partial void LogPullSecretUnusable(string @namespace, string name, string reason);
}
