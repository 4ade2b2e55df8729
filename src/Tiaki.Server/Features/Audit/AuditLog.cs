using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Tiaki.Server.Data;
using Tiaki.Server.Infrastructure;

namespace Tiaki.Server.Features.Audit;

/// <summary>Filters of the audit list; text filters match a part, case-insensitively.</summary>
internal sealed record AuditFilter(int Limit = 100, string? Target = null, string? Actor = null, string? Action = null);

internal sealed record AuditEntryDto(long Id, DateTimeOffset At, string Actor, string Action, string? Target, string? Detail, string? Log);

/// <summary>Who did what, when. Entries are staged on the caller's DbContext so they commit with the change they describe.</summary>
internal sealed class AuditLog(TiakiDbContext db, TimeProvider time)
{
    public void Add(string actor, string action, string? target, string? detail = null, string? log = null) =>
        db.Audit.Add(new AuditEntity { At = time.GetUtcNow(), Actor = actor, Action = action, Target = target, Detail = detail, Log = log });

    public async Task<IReadOnlyList<AuditEntryDto>> ListAsync(AuditFilter filter, CancellationToken ct)
    {
        var q = db.Audit.AsNoTracking();
        if (filter.Target is { } target)
        {
            q = q.Where(a => a.Target == target);
        }

#pragma warning disable CA1862 // EF translates ToLower() + Contains to SQL on both providers; the StringComparison overload it would not.
        if (filter.Actor?.Trim().ToLowerInvariant() is { Length: > 0 } actor)
        {
            q = q.Where(a => a.Actor.ToLower().Contains(actor));
        }

        if (filter.Action?.Trim().ToLowerInvariant() is { Length: > 0 } action)
        {
            q = q.Where(a => a.Action.ToLower().Contains(action));
        }
#pragma warning restore CA1862

        return await q.OrderByDescending(a => a.Id).Take(filter.Limit)
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

    private static async Task<Results<Ok<IReadOnlyList<AuditEntryDto>>, ProblemHttpResult>> List(
        AuditLog audit, int? limit, string? target, string? actor, string? action, CancellationToken ct)
    {
        if (limit is < 1 or > 1000)
        {
            return Problems.Field("limit", "must be from 1 to 1000");
        }

        return TypedResults.Ok(await audit.ListAsync(new AuditFilter(limit ?? 100, target, actor, action), ct));
    }
}
