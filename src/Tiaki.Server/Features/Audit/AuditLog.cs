using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Tiaki.Server.Data;
using Tiaki.Server.Infrastructure;

namespace Tiaki.Server.Features.Audit;

internal sealed record AuditEntryDto(long Id, DateTimeOffset At, string Actor, string Action, string? Target, string? Detail, string? Log);

/// <summary>Who did what, when. Entries are staged on the caller's DbContext so they commit with the change they describe.</summary>
internal sealed class AuditLog(TiakiDbContext db, TimeProvider time)
{
    public void Add(string actor, string action, string? target, string? detail = null, string? log = null) =>
        db.Audit.Add(new AuditEntity { At = time.GetUtcNow(), Actor = actor, Action = action, Target = target, Detail = detail, Log = log });

    public async Task<IReadOnlyList<AuditEntryDto>> ListAsync(int limit, string? target, CancellationToken ct)
    {
        var q = db.Audit.AsNoTracking();
        if (target is not null)
        {
            q = q.Where(a => a.Target == target);
        }

        return await q.OrderByDescending(a => a.Id).Take(limit)
            .Select(a => new AuditEntryDto(a.Id, a.At, a.Actor, a.Action, a.Target, a.Detail, a.Log))
            .ToListAsync(ct);
    }
}

internal static class AuditEndpoints
{
    public static RouteGroupBuilder MapAuditAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/audit", List).WithTags("Audit");
        return admin;
    }

    private static async Task<Results<Ok<IReadOnlyList<AuditEntryDto>>, ProblemHttpResult>> List(AuditLog audit, int? limit, string? target, CancellationToken ct)
    {
        if (limit is < 1 or > 1000)
        {
            return Problems.Field("limit", "must be from 1 to 1000");
        }

        return TypedResults.Ok(await audit.ListAsync(limit ?? 100, target, ct));
    }
}
