using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Tiaki.Server.Configuration;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Live;

namespace Tiaki.Server.Features.Commands;

/// <summary>
/// Wakes long-polls of one agent in this process. A poller takes the wait handle BEFORE it looks at the database, so
/// a command queued in between still wakes it.
/// </summary>
internal sealed class CommandSignals
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);

    public Task WaitHandle(string agentId) =>
        _waiters.GetOrAdd(agentId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Signal(string agentId)
    {
        if (_waiters.TryRemove(agentId, out var tcs))
        {
            tcs.TrySetResult();
        }
    }
}

/// <summary>Tells every replica that commands were queued for an agent: in-process at once, and via NOTIFY on PostgreSQL.</summary>
internal sealed class CommandNotifier(CommandSignals signals, LiveUpdates live)
{
    public const string Channel = "tiaki_commands";

    public async Task PublishAsync(TiakiDbContext db, IEnumerable<string> agentIds, CancellationToken ct)
    {
        foreach (var agentId in agentIds.Distinct(StringComparer.Ordinal))
        {
            signals.Signal(agentId);
            if (db.IsPostgres)
            {
                await db.Database.ExecuteSqlAsync($"SELECT pg_notify({Channel}, {agentId})", ct);
            }
        }
    }

    /// <summary>Tells open dashboard pages, here and on every replica, that something they show has changed.</summary>
    public async Task PublishLiveAsync(TiakiDbContext db, LiveChange change, CancellationToken ct)
    {
        live.Raise(change);
        if (db.IsPostgres)
        {
            // Rides on the command channel: one LISTEN connection per replica serves both.
            var payload = LiveUpdates.NotifyPrefix + change;
            await db.Database.ExecuteSqlAsync($"SELECT pg_notify({Channel}, {payload})", ct);
        }
    }
}

/// <summary>LISTENs on PostgreSQL so a command queued through another replica wakes the long-polls held here.</summary>
internal sealed partial class PostgresCommandListener(
    IOptions<TiakiOptions> options,
    CommandSignals signals,
    LiveUpdates live,
    ILogger<PostgresCommandListener> logger) : BackgroundService
{
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once LISTEN is active (tests and start-up ordering).</summary>
    public Task Listening => _listening.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Database.IsPostgres)
        {
            _listening.TrySetResult();
            return;
        }

        var csb = new NpgsqlConnectionStringBuilder(options.Value.Database.ConnectionString) { KeepAlive = 30, Pooling = false };
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var conn = new NpgsqlConnection(csb.ConnectionString);
                conn.Notification += (_, e) =>
                {
                    if (!live.TryRaiseRemote(e.Payload))
                    {
                        signals.Signal(e.Payload);
                    }
                };
                await conn.OpenAsync(stoppingToken);
                await using (var cmd = new NpgsqlCommand($"LISTEN {CommandNotifier.Channel}", conn))
                {
                    await cmd.ExecuteNonQueryAsync(stoppingToken);
                }

                _listening.TrySetResult();
                LogListening();
                while (!stoppingToken.IsCancellationRequested)
                {
                    await conn.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or IOException)
            {
                // Long-polls still end at their timeout while we reconnect; agents then poll again.
                LogListenFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            }
        }
    }

    [LoggerMessage(30, LogLevel.Information, "Listening for queued commands from other replicas")]
    private partial void LogListening();

    [LoggerMessage(31, LogLevel.Warning, "Lost the PostgreSQL LISTEN connection; reconnecting")]
    private partial void LogListenFailed(Exception ex);
}
