using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tiaki.Contracts;
using Tiaki.Server.Configuration;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Agents;
using Tiaki.Server.Features.Audit;
using Tiaki.Server.Features.Commands;
using Tiaki.Server.Infrastructure;

namespace Tiaki.Server.Features.Scheduling;

internal sealed record ScanRequest(string? AgentId = null);

internal sealed record ScansQueued(IReadOnlyList<string> CommandIds);

internal sealed class ScanService(TiakiDbContext db, CommandService commands, AuditLog audit, TimeProvider time, IOptions<TiakiOptions> options)
{
    /// <summary>Queues a scan for one agent, or for every online agent; null when the named agent does not exist.</summary>
    public async Task<IReadOnlyList<string>?> QueueAsync(string? agentId, string actor, CancellationToken ct)
    {
        List<string> targets;
        if (agentId is not null)
        {
            if (!await db.Agents.AnyAsync(a => a.Id == agentId, ct))
            {
                return null;
            }

            targets = [agentId];
        }
        else
        {
            var now = time.GetUtcNow();
            var since = now - options.Value.OfflineAfter(now);
            targets = await db.Agents.Where(a => a.LastSeenAt > since).Select(a => a.Id).ToListAsync(ct);
        }

        var ids = targets.Select(t => commands.Stage(t, new AgentCommand(CommandService.NewId(), null, null, null, null, null) { Type = CommandTypes.Scan }, null).CommandId).ToList();
        audit.Add(actor, "scan.requested", agentId, $"{ids.Count} agent(s)");
        await db.SaveChangesAsync(ct);
        await commands.PublishAsync(targets, ct);
        return ids;
    }
}

internal static class ScanEndpoints
{
    public static RouteGroupBuilder MapScanAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/scans", Queue).WithTags("Scans");
        return admin;
    }

    private static async Task<Results<Accepted<ScansQueued>, ProblemHttpResult>> Queue(ScanRequest? request, ScanService scans, HttpContext http, CancellationToken ct)
    {
        var ids = await scans.QueueAsync(request?.AgentId, AgentEndpoints.Actor(http), ct);
        return ids is null ? Problems.NotFound("Agent") : TypedResults.Accepted((string?)null, new ScansQueued(ids));
    }
}
