namespace Tiaki.Server.Features.Live;

/// <summary>What changed, so an open page can tell whether it cares.</summary>
/// <remarks>Public, like the few types below that dashboard components take as parameters: Razor components are public.</remarks>
public enum LiveChange { Report, CommandDelivered, CommandResult, UpdateDecision, Agents }

/// <summary>
/// The in-process event hub the services raise after they commit, and the dashboard's open pages listen to. Events
/// from other replicas arrive through <see cref="Commands.PostgresCommandListener"/> on the same NOTIFY channel the
/// command long-poll uses (payloads starting with <see cref="NotifyPrefix"/>).
/// </summary>
internal sealed class LiveUpdates
{
    public const string NotifyPrefix = "live:";

    public event Action<LiveChange>? Changed;

    public void Raise(LiveChange change)
    {
        // A page that throws must not break the service that raised the event (e.g. an agent's report).
        foreach (var handler in Changed?.GetInvocationList() ?? [])
        {
            try
            {
                ((Action<LiveChange>)handler)(change);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>Decodes a NOTIFY payload from another replica; false when it is not a live event.</summary>
    public bool TryRaiseRemote(string payload)
    {
        if (!payload.StartsWith(NotifyPrefix, StringComparison.Ordinal) ||
            !Enum.TryParse<LiveChange>(payload.AsSpan(NotifyPrefix.Length), out var change))
        {
            return false;
        }

        Raise(change);
        return true;
    }
}
