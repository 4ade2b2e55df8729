using Microsoft.Extensions.Options;
using Npgsql;
using Tiaki.Server.Configuration;

namespace Tiaki.Server.Features.Scheduling;

/// <summary>
/// Only one replica runs the scheduler. On PostgreSQL that is whoever holds a session advisory lock (released when its
/// connection dies, so another replica takes over); with SQLite there is one process.
/// </summary>
internal sealed partial class SchedulerLeadership(IOptions<TiakiOptions> options, ILogger<SchedulerLeadership> logger) : IAsyncDisposable
{
    private const long LockKey = 0x7469616b69_01; // "tiaki" + 1
    private readonly SemaphoreSlim _gate = new(1, 1);
    private NpgsqlConnection? _connection;

    public bool IsLeader { get; private set; }

    public async Task<bool> TryAcquireAsync(CancellationToken ct)
    {
        if (!options.Value.Database.IsPostgres)
        {
            return IsLeader = true;
        }

        await _gate.WaitAsync(ct);
        try
        {
            if (_connection is { State: System.Data.ConnectionState.Open } && IsLeader)
            {
                // Still ours if the session is alive.
                await using var ping = new NpgsqlCommand("SELECT 1", _connection);
                try
                {
                    await ping.ExecuteScalarAsync(ct);
                    return true;
                }
                catch (NpgsqlException)
                {
                    await DropAsync();
                }
            }

            _connection ??= new NpgsqlConnection(new NpgsqlConnectionStringBuilder(options.Value.Database.ConnectionString) { Pooling = false }.ConnectionString);
            if (_connection.State != System.Data.ConnectionState.Open)
            {
                await _connection.OpenAsync(ct);
            }

            await using var cmd = new NpgsqlCommand("SELECT pg_try_advisory_lock(@k)", _connection);
            cmd.Parameters.AddWithValue("k", LockKey);
            IsLeader = (bool)(await cmd.ExecuteScalarAsync(ct))!;
            if (IsLeader)
            {
                LogLeader();
            }

            return IsLeader;
        }
        catch (NpgsqlException ex)
        {
            LogLockFailed(ex);
            await DropAsync();
            return false;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Gives the lock up (shutdown, or a test playing a replica that died).</summary>
    public async Task ReleaseAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await DropAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task DropAsync()
    {
        IsLeader = false;
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DropAsync();
        _gate.Dispose();
    }

    [LoggerMessage(60, LogLevel.Information, "This replica now runs the scan scheduler")]
    private partial void LogLeader();

    [LoggerMessage(61, LogLevel.Warning, "Could not take the scheduler lock")]
    private partial void LogLockFailed(Exception ex);
}

/// <summary>Queues a scan for every online agent at each SCAN_INTERVAL occurrence (cron, UTC).</summary>
internal sealed partial class ScanScheduler(
    IServiceScopeFactory scopes,
    SchedulerLeadership leadership,
    TimeProvider time,
    IOptions<TiakiOptions> options,
    ILogger<ScanScheduler> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.RunScheduler)
        {
            return;
        }

        await leadership.TryAcquireAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            if (options.Value.ScanInterval.GetNextOccurrence(now, TimeZoneInfo.Utc) is not { } next)
            {
                return;
            }

            try
            {
                await Task.Delay(next - now, time, stoppingToken);
                await TickAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogTickFailed(ex);
            }
        }
    }

    internal async Task TickAsync(CancellationToken ct)
    {
        if (!await leadership.TryAcquireAsync(ct))
        {
            return;
        }

        await using var scope = scopes.CreateAsyncScope();
        var ids = await scope.ServiceProvider.GetRequiredService<ScanService>().QueueAsync(null, "scheduler", ct);
        LogQueued(ids?.Count ?? 0);
    }

    [LoggerMessage(62, LogLevel.Information, "Scheduled scan queued for {Count} online agent(s)")]
    private partial void LogQueued(int count);

    [LoggerMessage(63, LogLevel.Error, "Scheduled scan failed")]
    private partial void LogTickFailed(Exception ex);
}
