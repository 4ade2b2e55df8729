using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Prometheus;
using Tiaki.Contracts;
using Tiaki.Server.Configuration;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Audit;
using Tiaki.Server.Features.Live;
using Tiaki.Server.Features.Notifications;

namespace Tiaki.Server.Features.Commands;

internal enum ResultOutcome { Accepted, Repeated, NotFound, Conflict }

/// <summary>The per-agent command queue: enqueue, long-poll with leases, results.</summary>
internal sealed partial class CommandService(
    TiakiDbContext db,
    CommandSignals signals,
    CommandNotifier notifier,
    AuditLog audit,
    NotificationOutbox outbox,
    TimeProvider time,
    IOptions<TiakiOptions> options,
    ILogger<CommandService> logger)
{
    private const int MaxBatch = 20;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private static readonly Counter Queued = Metrics.CreateCounter("tiaki_commands_queued_total", "Commands queued for agents", "type");
    private static readonly Counter Delivered = Metrics.CreateCounter("tiaki_commands_delivered_total", "Command deliveries to agents (redeliveries included)");
    private static readonly Gauge Polling = Metrics.CreateGauge("tiaki_long_polls_waiting", "Agent long-polls currently waiting");

    /// <summary>Stages a command on the DbContext; call <see cref="PublishAsync"/> after saving.</summary>
    public AgentCommand Stage(string agentId, AgentCommand command, string? updateId)
    {
        db.Commands.Add(new CommandEntity
        {
            Id = command.CommandId,
            AgentId = agentId,
            Type = command.Type,
            UpdateId = updateId,
            PayloadJson = JsonSerializer.Serialize(command, Json),
            Status = CommandStatuses.Queued,
            CreatedAt = time.GetUtcNow(),
        });
        Queued.WithLabels(command.Type).Inc();
        return command;
    }

    public static string NewId() => Guid.CreateVersion7().ToString("N");

    public Task PublishAsync(IEnumerable<string> agentIds, CancellationToken ct) => notifier.PublishAsync(db, agentIds, ct);

    public Task PublishLiveAsync(LiveChange change, CancellationToken ct) => notifier.PublishLiveAsync(db, change, ct);

    /// <summary>Returns leased commands as soon as there are any, else an empty list once <paramref name="wait"/> has passed.</summary>
    public async Task<IReadOnlyList<AgentCommand>> PollAsync(string agentId, TimeSpan wait, CancellationToken ct)
    {
        var deadline = time.GetUtcNow() + wait;
        using var _ = Polling.TrackInProgress();
        while (true)
        {
            var wake = signals.WaitHandle(agentId);
            var (leased, nextExpiry) = await TryLeaseAsync(agentId, ct);
            var now = time.GetUtcNow();
            if (leased.Count > 0 || now >= deadline)
            {
                return leased;
            }

            var delay = deadline - now;
            if (nextExpiry is { } e && e - now < delay)
            {
                delay = e - now + TimeSpan.FromMilliseconds(1);
            }

            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var timer = Task.Delay(delay, time, cts.Token);
            await Task.WhenAny(wake, timer);
            await cts.CancelAsync();
            ct.ThrowIfCancellationRequested();
        }
    }

    private async Task<(List<AgentCommand> Leased, DateTimeOffset? NextExpiry)> TryLeaseAsync(string agentId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var open = await db.Commands.AsNoTracking()
            .Where(c => c.AgentId == agentId && (c.Status == CommandStatuses.Queued || c.Status == CommandStatuses.Leased))
            .OrderBy(c => c.CreatedAt)
            .Select(c => new { c.Id, c.Status, c.LeaseUntil, c.PayloadJson, c.Deliveries })
            .Take(MaxBatch * 4)
            .ToListAsync(ct);

        var leased = new List<AgentCommand>();
        DateTimeOffset? nextExpiry = null;
        var leaseUntil = now + options.Value.CommandLease;
        foreach (var c in open)
        {
            var due = c.Status == CommandStatuses.Queued || c.LeaseUntil <= now;
            if (!due)
            {
                nextExpiry = nextExpiry is { } n && n < c.LeaseUntil ? n : c.LeaseUntil;
                continue;
            }

            if (c.Status == CommandStatuses.Leased && c.Deliveries >= options.Value.CommandMaxDeliveries)
            {
                await GiveUpAsync(agentId, c.Id, c.Deliveries, ct);
                continue;
            }

            if (leased.Count >= MaxBatch)
            {
                continue;
            }

            // Conditional update: if another poll (or replica) took the lease first, it is theirs.
            var taken = await db.Commands
                .Where(x => x.Id == c.Id && (x.Status == CommandStatuses.Queued || (x.Status == CommandStatuses.Leased && x.LeaseUntil <= now)))
                .ExecuteUpdateAsync(s => s
                    .SetProperty(x => x.Status, CommandStatuses.Leased)
                    .SetProperty(x => x.LeaseUntil, leaseUntil)
                    .SetProperty(x => x.Deliveries, x => x.Deliveries + 1), ct);
            if (taken == 1)
            {
                leased.Add(JsonSerializer.Deserialize<AgentCommand>(c.PayloadJson, Json)!);
                Delivered.Inc();
            }
        }

        if (leased.Count > 0)
        {
            LogDelivered(agentId, leased.Count);
            await notifier.PublishLiveAsync(db, LiveChange.CommandDelivered, ct);
        }

        return (leased, nextExpiry);
    }

    /// <summary>
    /// An agent that takes a command again and again without answering would keep its update "deploying" forever:
    /// after COMMAND_MAX_DELIVERIES the command fails, so the admin can see it and try again.
    /// </summary>
    private async Task GiveUpAsync(string agentId, string commandId, int deliveries, CancellationToken ct)
    {
        var command = await db.Commands.FirstOrDefaultAsync(x => x.Id == commandId && x.Status == CommandStatuses.Leased, ct);
        if (command is null)
        {
            return;
        }

        command.Status = CommandStatuses.Failed;
        command.Error = $"no result from the agent after {deliveries} deliveries";
        command.CompletedAt = time.GetUtcNow();
        if (command.UpdateId is { } updateId && await db.Updates.FirstOrDefaultAsync(u => u.Id == updateId, ct) is { } update)
        {
            update.Status = UpdateStatuses.Failed;
            update.UpdatedAt = time.GetUtcNow();
            if (command.Type is CommandTypes.Deploy or CommandTypes.Rollback)
            {
                await outbox.StageCommandResultAsync(update, command.Type, false, command.Error, ct);
            }
        }

        audit.Add("server", $"{command.Type}.expired", command.UpdateId ?? commandId, command.Error);
        try
        {
            await db.SaveChangesAsync(ct);
            outbox.Flush();
            LogGaveUp(agentId, commandId, deliveries);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Another replica decided first.
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }

    public async Task<ResultOutcome> RecordResultAsync(string agentId, string commandId, CommandResult result, CancellationToken ct)
    {
        var command = await db.Commands.FirstOrDefaultAsync(c => c.Id == commandId && c.AgentId == agentId, ct);
        if (command is null)
        {
            return ResultOutcome.NotFound;
        }

        var status = result.Success ? CommandStatuses.Succeeded : CommandStatuses.Failed;
        if (command.Status is CommandStatuses.Succeeded or CommandStatuses.Failed)
        {
            return command.Status == status && command.Error == result.Error && command.Log == result.Log
                ? ResultOutcome.Repeated
                : ResultOutcome.Conflict;
        }

        command.Status = status;
        command.Error = result.Error;
        command.Log = result.Log;
        command.CompletedAt = time.GetUtcNow();
        command.LeaseUntil = null;

        if (command.UpdateId is { } updateId && await db.Updates.FirstOrDefaultAsync(u => u.Id == updateId, ct) is { } update)
        {
            update.Status = (command.Type, result.Success) switch
            {
                (CommandTypes.Rollback, true) => UpdateStatuses.RolledBack,
                (_, true) => UpdateStatuses.Deployed,
                _ => UpdateStatuses.Failed,
            };
            update.UpdatedAt = time.GetUtcNow();
            if (command.Type is CommandTypes.Deploy or CommandTypes.Rollback)
            {
                await outbox.StageCommandResultAsync(update, command.Type, result.Success, result.Error, ct);
            }
        }

        if (command.Type != CommandTypes.Scan || !result.Success)
        {
            audit.Add($"agent:{agentId}", $"{command.Type}.{(result.Success ? "succeeded" : "failed")}", command.UpdateId ?? commandId,
                result.Error, result.Log);
        }

        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            return ResultOutcome.Conflict;
        }

        outbox.Flush();
        LogResult(agentId, commandId, result.Success);
        await notifier.PublishLiveAsync(db, LiveChange.CommandResult, ct);
        return ResultOutcome.Accepted;
    }

    [LoggerMessage(42, LogLevel.Warning, "Agent {AgentId} never reported a result for command {CommandId} after {Deliveries} deliveries; marked failed")]
    private partial void LogGaveUp(string agentId, string commandId, int deliveries);

    [LoggerMessage(40, LogLevel.Debug, "Delivered {Count} command(s) to agent {AgentId}")]
    private partial void LogDelivered(string agentId, int count);

    [LoggerMessage(41, LogLevel.Information, "Agent {AgentId} reported command {CommandId}: success={Success}")]
    private partial void LogResult(string agentId, string commandId, bool success);
}
