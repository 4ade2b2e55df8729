using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Prometheus;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Notifications.Channels;

namespace Tiaki.Server.Features.Notifications;

/// <summary>
/// Sends the outbox. Every replica runs one; a delivery is claimed with a conditional UPDATE (pending and due, or a
/// lapsed lease), so exactly one replica sends it. Failures are retried with exponential backoff up to
/// NOTIFY_MAX_ATTEMPTS; each attempt is recorded.
/// </summary>
internal sealed partial class NotificationDispatcher(
    IServiceScopeFactory scopes,
    NotificationSignal signal,
    TimeProvider time,
    IOptions<NotificationOptions> options,
    ILogger<NotificationDispatcher> logger) : BackgroundService
{
    private const int Batch = 20;
    private static readonly Counter Attempts = Metrics.CreateCounter("tiaki_notification_attempts_total", "Notification delivery attempts", "kind", "result");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = options.Value.DispatchInterval;
            try
            {
                var nextDue = await DispatchDueAsync(stoppingToken);
                if (nextDue is { } due)
                {
                    var untilDue = due - time.GetUtcNow();
                    wait = untilDue < wait ? untilDue : wait;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            // A background loop must outlive a bad row or a database outage: log, and try again on the next pass.
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogPassFailed(ex);
            }

            try
            {
                if (wait > TimeSpan.Zero)
                {
                    await signal.WaitAsync(wait, time, stoppingToken);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Sends every due delivery this replica can claim; returns when the next pending one falls due.</summary>
    internal async Task<DateTimeOffset?> DispatchDueAsync(CancellationToken ct)
    {
        while (true)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TiakiDbContext>();
            var now = time.GetUtcNow();
            var due = await db.NotificationDeliveries.AsNoTracking()
                .Where(d => (d.Status == DeliveryStatuses.Pending && d.NextAttemptAt <= now) ||
                            (d.Status == DeliveryStatuses.Sending && d.LeaseUntil <= now))
                .OrderBy(d => d.NextAttemptAt)
                .Select(d => d.Id)
                .Take(Batch)
                .ToListAsync(ct);
            if (due.Count == 0)
            {
                return await db.NotificationDeliveries.AsNoTracking()
                    .Where(d => d.Status == DeliveryStatuses.Pending)
                    .OrderBy(d => d.NextAttemptAt)
                    .Select(d => (DateTimeOffset?)d.NextAttemptAt)
                    .FirstOrDefaultAsync(ct);
            }

            foreach (var id in due)
            {
                await SendOneAsync(scope.ServiceProvider, db, id, ct);
            }
        }
    }

    private async Task SendOneAsync(IServiceProvider services, TiakiDbContext db, string id, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var lease = now + options.Value.SendLease;
        var claimed = await db.NotificationDeliveries
            .Where(d => d.Id == id && ((d.Status == DeliveryStatuses.Pending && d.NextAttemptAt <= now) ||
                                       (d.Status == DeliveryStatuses.Sending && d.LeaseUntil <= now)))
            .ExecuteUpdateAsync(s => s
                .SetProperty(d => d.Status, DeliveryStatuses.Sending)
                .SetProperty(d => d.LeaseUntil, lease)
                .SetProperty(d => d.Attempts, d => d.Attempts + 1), ct);
        if (claimed != 1)
        {
            return; // another replica has it
        }

        var delivery = await db.NotificationDeliveries.FirstAsync(d => d.Id == id, ct);
        var target = await services.GetRequiredService<ChannelService>().ResolveAsync(delivery.ChannelId, ct);
        DeliveryOutcome outcome;
        if (target is null)
        {
            outcome = DeliveryOutcome.Failed("the channel no longer exists");
        }
        else
        {
            var data = delivery.DataJson is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(delivery.DataJson);
            outcome = await services.GetRequiredService<ChannelSenders>()
                .SendAsync(target, new Notification(delivery.Event, delivery.Title, delivery.Body, delivery.Link, data), ct);
        }

        var at = time.GetUtcNow();
        db.NotificationAttempts.Add(new NotificationAttemptEntity { DeliveryId = id, At = at, Success = outcome.Success, Error = outcome.Error });
        delivery.LeaseUntil = null;
        delivery.LastError = outcome.Error;
        if (outcome.Success)
        {
            delivery.Status = DeliveryStatuses.Sent;
            delivery.SentAt = at;
            LogSent(id, delivery.Event, delivery.ChannelId, delivery.Attempts);
        }
        else if (target is null || delivery.Attempts >= options.Value.MaxAttempts)
        {
            delivery.Status = DeliveryStatuses.Failed;
            LogGaveUp(id, delivery.Event, delivery.ChannelId, delivery.Attempts, outcome.Error);
        }
        else
        {
            delivery.Status = DeliveryStatuses.Pending;
            delivery.NextAttemptAt = at + options.Value.Backoff(delivery.Attempts);
            LogRetrying(id, delivery.Event, delivery.ChannelId, delivery.Attempts, outcome.Error, delivery.NextAttemptAt);
        }

        Attempts.WithLabels(target?.Kind ?? "unknown", outcome.Success ? "sent" : "failed").Inc();
        await db.SaveChangesAsync(ct);
    }

    [LoggerMessage(70, LogLevel.Information, "Notification {DeliveryId} ({Event}) sent via channel {ChannelId} on attempt {Attempt}")]
    private partial void LogSent(string deliveryId, string @event, string channelId, int attempt);

    [LoggerMessage(71, LogLevel.Warning, "Notification {DeliveryId} ({Event}) via channel {ChannelId} failed on attempt {Attempt}: {Error}; next try at {NextAttempt}")]
    private partial void LogRetrying(string deliveryId, string @event, string channelId, int attempt, string? error, DateTimeOffset nextAttempt);

    [LoggerMessage(72, LogLevel.Error, "Notification {DeliveryId} ({Event}) via channel {ChannelId} given up after {Attempt} attempt(s): {Error}")]
    private partial void LogGaveUp(string deliveryId, string @event, string channelId, int attempt, string? error);

    [LoggerMessage(73, LogLevel.Error, "Notification dispatch pass failed")]
    private partial void LogPassFailed(Exception ex);
}
