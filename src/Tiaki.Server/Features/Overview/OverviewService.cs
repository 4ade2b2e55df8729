using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tiaki.Contracts;
using Tiaki.Server.Configuration;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Agents;
using Tiaki.Server.Features.Notifications;
using Tiaki.Server.Features.Updates;

namespace Tiaki.Server.Features.Overview;

/// <summary>Counts of the fleet at a glance (the dashboard's first page and <c>GET /admin/overview</c>).</summary>
internal sealed record OverviewDto(
    int AgentsOnline, int AgentsOffline, int Containers, int PendingUpdates, IReadOnlyDictionary<string, int> PendingByBump,
    int FailedUpdates, IReadOnlyList<UpdateDto> RecentDeployments, DateTimeOffset? LastScanAt, DateTimeOffset? NextScanAt);

/// <summary>What the server runs with. Nothing secret: no token, key, password or connection string.</summary>
internal sealed record ServerSettingsDto(
    string ScanSchedule, DateTimeOffset? NextScanAt, bool SchedulerEnabled, string Database, string AdminTokenSource,
    TimeSpan SessionLifetime, TimeSpan CommandLease, TimeSpan OfflineAfter, long MaxBodyBytes, IReadOnlyList<string> NotificationChannels);

internal sealed class OverviewService(
    TiakiDbContext db, AgentService agents, UpdateService updates, ChannelService channels, TimeProvider time, IOptions<TiakiOptions> options)
{
    /// <summary>Bump kinds in the order a user weighs them; "unknown" when the agent could not tell.</summary>
    public static readonly IReadOnlyList<string> BumpKinds = ["major", "minor", "patch", "digest", "unknown"];

    private static readonly string[] Finished = [UpdateStatuses.Deployed, UpdateStatuses.Failed, UpdateStatuses.RolledBack, UpdateStatuses.Deploying, UpdateStatuses.RollingBack];

    public async Task<OverviewDto> GetAsync(CancellationToken ct)
    {
        var (online, offline) = await agents.CountByPresenceAsync(ct);
        var containers = await db.Containers.CountAsync(ct);
        var byBump = await db.Updates.AsNoTracking().Where(u => u.Status == UpdateStatuses.Pending)
            .GroupBy(u => u.Bump).Select(g => new { Bump = g.Key, Count = g.Count() }).ToListAsync(ct);
        var pending = BumpKinds.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);
        foreach (var b in byBump)
        {
            var kind = b.Bump is { } k && pending.ContainsKey(k) ? k : "unknown";
            pending[kind] += b.Count;
        }

        var failed = await db.Updates.CountAsync(u => u.Status == UpdateStatuses.Failed, ct);
        var recent = await updates.RecentAsync(Finished, 8, ct);
        var lastScan = await db.Commands.AsNoTracking().Where(c => c.Type == CommandTypes.Scan)
            .OrderByDescending(c => c.CreatedAt).Select(c => (DateTimeOffset?)c.CreatedAt).FirstOrDefaultAsync(ct);
        return new OverviewDto(online, offline, containers, pending.Values.Sum(), pending,
            failed, recent, lastScan, NextScan());
    }

    public async Task<ServerSettingsDto> GetSettingsAsync(CancellationToken ct)
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        // Channel names and kinds only; their settings (with "has a secret" flags) are under /admin/notifications.
        var channelList = await channels.ListAsync(ct);
        var named = channelList.Select(c => $"{c.Name} ({c.Kind}{(c.Enabled ? "" : ", disabled")}{(c.FromEnvironment ? ", from SMTP_*" : "")})").ToList();
        return new ServerSettingsDto(o.ScanIntervalCron, NextScan(), o.RunScheduler, o.Database.IsPostgres ? "PostgreSQL" : "SQLite",
            o.AdminToken is null ? "generated, kept in the data directory" : "ADMIN_TOKEN", o.JwtLifetime, o.CommandLease,
            o.OfflineAfter(now), o.MaxBodyBytes, named);
    }

    private DateTimeOffset? NextScan() =>
        options.Value.RunScheduler ? options.Value.ScanInterval.GetNextOccurrence(time.GetUtcNow(), TimeZoneInfo.Utc) : null;
}

internal static class OverviewEndpoints
{
    public static RouteGroupBuilder MapOverviewAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/overview", async Task<Ok<OverviewDto>> (OverviewService overview, CancellationToken ct) =>
            TypedResults.Ok(await overview.GetAsync(ct))).WithTags("Overview");
        admin.MapGet("/settings", async Task<Ok<ServerSettingsDto>> (OverviewService overview, CancellationToken ct) =>
            TypedResults.Ok(await overview.GetSettingsAsync(ct))).WithTags("Overview");
        return admin;
    }
}
