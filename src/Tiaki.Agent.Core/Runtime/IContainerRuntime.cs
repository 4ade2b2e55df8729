using Tiaki.Contracts;
using Tiaki.Registry.Auth;

namespace Tiaki.Agent.Core.Runtime;

/// <summary>
/// The port each agent implements over its orchestrator (Docker engine, Kubernetes API).
/// The agent loop, update detection and reporting live in the core and only see this.
/// </summary>
public interface IContainerRuntime
{
    /// <summary>"vm" for Docker hosts, "k8s" for clusters: the agent type sent at registration.</summary>
    string AgentType { get; }

    /// <summary>Everything running that Tiaki watches, with what the registry check needs.</summary>
    Task<IReadOnlyList<ScannedContainer>> ScanAsync(CancellationToken cancellationToken);

    /// <summary>Runs a deploy or rollback command against a container this agent reported.</summary>
    Task<CommandOutcome> ExecuteAsync(AgentCommand command, ScannedContainer target, CancellationToken cancellationToken);
}

/// <param name="Report">What goes to the control plane.</param>
/// <param name="ImageReference">The full reference the container runs (e.g. <c>ghcr.io/org/app:1.2.3</c>).</param>
/// <param name="RepoDigests">Digests the runtime knows this image by (the digest it was pulled by).</param>
/// <param name="Labels">Labels or annotations carrying per-container policy (<c>tiaki.*</c>).</param>
public sealed record ScannedContainer(
    ContainerReport Report,
    string ImageReference,
    IReadOnlyList<string> RepoDigests,
    IReadOnlyDictionary<string, string> Labels)
{
    /// <summary>
    /// Pull credentials the runtime found for this container (registry host → credential), e.g. a
    /// Kubernetes workload's <c>imagePullSecrets</c>; the update check prefers them to the auth file.
    /// Only <see cref="Report"/> goes to the control plane: these never leave the agent.
    /// </summary>
    public IReadOnlyDictionary<string, RegistryCredential>? RegistryCredentials { get; init; }
}

/// <summary>An expected outcome of a command: success, or failure with a reason. Not an exception.</summary>
public sealed record CommandOutcome(bool Success, string? Error, string Log)
{
    public static CommandOutcome Ok(string log) => new(true, null, log);
    public static CommandOutcome Failed(string error, string log) => new(false, error, log);
}
