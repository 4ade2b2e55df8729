using Tiaki.Agent.Core.Runtime; using Tiaki.Contracts;
namespace Tiaki.Agent.Core.Updates;
public interface IUpdateChecker
{
    // One result per input container, same order. Never throws for a registry failure: it becomes Error.
    Task<IReadOnlyList<ContainerCheck>> CheckAsync(IReadOnlyList<ScannedContainer> containers, CancellationToken cancellationToken);
}
public sealed record ContainerCheck(ScannedContainer Container, UpdateReport? Update, string? Error);
