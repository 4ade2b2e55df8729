using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Notifications.Channels;

namespace Tiaki.Server.Features.Notifications;

/// <summary>One update in an "updates found" digest.</summary>
internal sealed record FoundUpdate(string UpdateId, string AgentName, string ContainerName, string Image, string CurrentTag, string LatestTag, string? Bump);

/// <summary>
/// Stages notifications as outbox rows on the caller's DbContext, so they commit with the change they report and a
/// failing channel can never fail that change. <see cref="NotificationDispatcher"/> sends them later.
/// </summary>
internal sealed class NotificationOutbox(
    TiakiDbContext db,
    ChannelService channels,
    NotificationSignal signal,
    TimeProvider time,
    IOptions<NotificationOptions> options)
{
    private bool _staged;

    public async Task StageAsync(Notification notification, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var channelId in await channels.SubscribersAsync(notification.Event, ct))
        {
            db.NotificationDeliveries.Add(new NotificationDeliveryEntity
            {
                Id = Guid.CreateVersion7().ToString("N"),
                ChannelId = channelId,
                Event = notification.Event,
                Title = notification.Title,
                Body = notification.Body,
                Link = notification.Link,
                DataJson = notification.Data is null ? null : JsonSerializer.Serialize(notification.Data),
                Status = DeliveryStatuses.Pending,
                CreatedAt = now,
                NextAttemptAt = now,
            });
            _staged = true;
        }
    }

    /// <summary>Call after SaveChanges: wakes this replica's dispatcher (others find the rows on their next pass).</summary>
    public void Flush()
    {
        if (_staged)
        {
            _staged = false;
            signal.Wake();
        }
    }

    public Task StageUpdatesFoundAsync(IReadOnlyList<FoundUpdate> found, CancellationToken ct)
    {
        if (found.Count == 0)
        {
            return Task.CompletedTask;
        }

        var hosts = found.Select(f => f.AgentName).Distinct(StringComparer.Ordinal).ToList();
        var title = found.Count == 1
            ? $"Update available: {found[0].ContainerName} {found[0].CurrentTag} → {found[0].LatestTag} on {found[0].AgentName}"
            : $"{found.Count} updates available on {(hosts.Count == 1 ? hosts[0] : $"{hosts.Count} hosts")}";
        var body = new StringBuilder();
        foreach (var f in found.OrderBy(f => f.AgentName, StringComparer.Ordinal).ThenBy(f => f.ContainerName, StringComparer.Ordinal))
        {
            body.Append(CultureInfo.InvariantCulture, $"{f.AgentName}: {f.ContainerName} ({f.Image}) {f.CurrentTag} → {f.LatestTag}");
            if (f.Bump is not null)
            {
                body.Append(CultureInfo.InvariantCulture, $" [{f.Bump}]");
            }

            if (options.Value.LinkTo($"updates/{f.UpdateId}") is { } link)
            {
                body.Append(CultureInfo.InvariantCulture, $"\n  {link}");
            }

            body.Append('\n');
        }

        var data = new Dictionary<string, string>
        {
            ["count"] = found.Count.ToString(CultureInfo.InvariantCulture),
            ["hosts"] = string.Join(",", hosts),
            ["updates"] = JsonSerializer.Serialize(found),
        };
        if (found.Count == 1)
        {
            data["host"] = found[0].AgentName;
            data["container"] = found[0].ContainerName;
            data["image"] = found[0].Image;
            data["currentTag"] = found[0].CurrentTag;
            data["latestTag"] = found[0].LatestTag;
        }

        return StageAsync(new Notification(NotificationEvents.UpdatesFound, title, body.ToString().TrimEnd(), options.Value.LinkTo("updates"), data), ct);
    }

    /// <summary>Deploy or rollback finished: looks up the names a person recognises and stages the message, unless muted.</summary>
    public async Task StageCommandResultAsync(UpdateEntity update, string commandType, bool success, string? error, CancellationToken ct)
    {
        var container = await db.Containers.AsNoTracking().FirstOrDefaultAsync(c => c.AgentId == update.AgentId && c.ContainerId == update.ContainerId, ct);
        var agentName = await db.Agents.AsNoTracking().Where(a => a.Id == update.AgentId).Select(a => a.Name).FirstOrDefaultAsync(ct) ?? update.AgentId;
        var image = container?.Image ?? "";
        if (await IsMutedAsync(update.AgentId, image, ct))
        {
            return;
        }

        var name = container?.Name ?? update.ContainerId;
        var rollback = commandType == Contracts.CommandTypes.Rollback;
        var (evt, title, what) = (rollback, success) switch
        {
            (false, true) => (NotificationEvents.DeploySucceeded, $"Deployed {name} {update.LatestTag} on {agentName}",
                $"{agentName}: {name} ({image}) updated {update.CurrentTag} → {update.LatestTag}"),
            (false, false) => (NotificationEvents.DeployFailed, $"Deploy of {name} failed on {agentName}",
                $"{agentName}: {name} ({image}) {update.CurrentTag} → {update.LatestTag} failed"),
            (true, true) => (NotificationEvents.RolledBack, $"Rolled back {name} to {update.CurrentTag} on {agentName}",
                $"{agentName}: {name} ({image}) rolled back {update.LatestTag} → {update.CurrentTag}"),
            (true, false) => (NotificationEvents.DeployFailed, $"Rollback of {name} failed on {agentName}",
                $"{agentName}: {name} ({image}) rollback {update.LatestTag} → {update.CurrentTag} failed"),
        };
        var body = error is null ? what : $"{what}: {error}";
        // Who asked for it (an admin, or "policy:<name>" for an automatic deploy) is in the audit entry of the request.
        var requestAction = rollback ? "update.rollback-requested" : "update.deploy-requested";
        var actor = await db.Audit.AsNoTracking().Where(a => a.Target == update.Id && a.Action == requestAction)
            .OrderByDescending(a => a.Id).Select(a => a.Actor).FirstOrDefaultAsync(ct);
        if (actor is not null)
        {
            body += actor.StartsWith("policy:", StringComparison.Ordinal) ? $"\nDeployed automatically by policy {actor[7..]}." : $"\nRequested by {actor}.";
        }

        var data = new Dictionary<string, string>
        {
            ["host"] = agentName, ["agentId"] = update.AgentId, ["container"] = name, ["image"] = image,
            ["currentTag"] = update.CurrentTag, ["latestTag"] = update.LatestTag, ["updateId"] = update.Id,
        };
        if (actor is not null)
        {
            data["requestedBy"] = actor;
        }

        if (error is not null)
        {
            data["error"] = error;
        }

        await StageAsync(new Notification(evt, title, body, options.Value.LinkTo($"updates/{update.Id}"), data), ct);
    }

    public Task StageAgentPresenceAsync(AgentEntity agent, bool online, DateTimeOffset now)
    {
        var title = online ? $"Agent {agent.Name} is back online" : $"Agent {agent.Name} is offline";
        var body = online
            ? $"{agent.Name} reported again at {now:yyyy-MM-dd HH:mm} UTC."
            : $"{agent.Name} has not reported since {agent.LastSeenAt:yyyy-MM-dd HH:mm} UTC.";
        var data = new Dictionary<string, string> { ["host"] = agent.Name, ["agentId"] = agent.Id };
        return StageAsync(new Notification(online ? NotificationEvents.AgentOnline : NotificationEvents.AgentOffline, title, body,
            options.Value.LinkTo($"agents/{agent.Id}"), data), CancellationToken.None);
    }

    private async Task<bool> IsMutedAsync(string agentId, string image, CancellationToken ct)
    {
        var policies = await db.Policies.AsNoTracking().ToListAsync(ct);
        return Policies.PolicyEngine.Match(policies, agentId, image) is { MuteNotifications: true };
    }
}

/// <summary>Wakes the dispatcher as soon as something was queued in this process.</summary>
internal sealed class NotificationSignal : IDisposable
{
    private readonly SemaphoreSlim _wake = new(0, 1);

    public void Dispose() => _wake.Dispose();

    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken ct) => WaitCoreAsync(timeout, time, ct);

    private async Task<bool> WaitCoreAsync(TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var woken = _wake.WaitAsync(cts.Token);
        var timer = Task.Delay(timeout, time, cts.Token);
        var first = await Task.WhenAny(woken, timer);
        await cts.CancelAsync();
        try
        {
            await Task.WhenAll(woken, timer);
        }
        catch (OperationCanceledException)
        {
        }

        ct.ThrowIfCancellationRequested();
        return first == woken && woken.IsCompletedSuccessfully;
    }
}
