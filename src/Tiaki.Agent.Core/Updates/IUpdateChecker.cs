using Tiaki.Agent.Core.Runtime;
using Tiaki.Contracts;

namespace Tiaki.Agent.Core.Updates;

/// <summary>Finds, for each scanned container, whether its registry has a newer image.</summary>
public interface IUpdateChecker
{
    /// <summary>One result per input container, same order. Never throws for a registry failure: it becomes <see cref="ContainerCheck.Error"/>.</summary>
    Task<IReadOnlyList<ContainerCheck>> CheckAsync(IReadOnlyList<ScannedContainer> containers, CancellationToken cancellationToken);
}

/// <summary>The outcome for one container: an update, nothing (up to date or disabled by policy), or an error.</summary>
public sealed record ContainerCheck(ScannedContainer Container, UpdateReport? Update, string? Error);
