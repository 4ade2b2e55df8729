using Microsoft.EntityFrameworkCore;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Audit;

namespace Tiaki.Server.Features.Policies;

internal sealed record MaintenanceWindowDto(string Cron, int DurationMinutes);

internal sealed record PolicyRequest(
    string Name,
    string ImagePattern,
    string? AgentId = null,
    bool AutoApprove = false,
    bool AutoDeploy = false,
    string MaxBump = Bumps.Patch,
    int? MinImageAgeMinutes = null,
    MaintenanceWindowDto? MaintenanceWindow = null,
    bool BlockOnVulnerabilities = true,
    bool MuteNotifications = false);

internal sealed record PolicyDto(
    string Id, string Name, string ImagePattern, string? AgentId, bool AutoApprove, bool AutoDeploy, string MaxBump,
    int? MinImageAgeMinutes, MaintenanceWindowDto? MaintenanceWindow, bool BlockOnVulnerabilities, bool MuteNotifications,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

internal enum PolicyError { None, NotFound, Invalid, Conflict }

internal readonly record struct PolicyResult(PolicyDto? Value, PolicyError Error = PolicyError.None, string? Field = null, string? Message = null);

/// <summary>Policy CRUD for the admin API and the dashboard.</summary>
internal sealed class PolicyService(TiakiDbContext db, AuditLog audit, TimeProvider time)
{
    public async Task<IReadOnlyList<PolicyDto>> ListAsync(CancellationToken ct) =>
        (await db.Policies.AsNoTracking().ToListAsync(ct)).OrderBy(p => p.Name, StringComparer.Ordinal).Select(ToDto).ToList();

    public async Task<PolicyDto?> GetAsync(string id, CancellationToken ct) =>
        await db.Policies.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, ct) is { } p ? ToDto(p) : null;

    /// <summary>Which policy applies to an image on an agent (for the dashboard's "what would happen" view).</summary>
    public async Task<PolicyDto?> MatchAsync(string image, string? agentId, CancellationToken ct) =>
        PolicyEngine.Match(await db.Policies.AsNoTracking().ToListAsync(ct), agentId ?? "", image) is { } p ? ToDto(p) : null;

    public async Task<PolicyResult> CreateAsync(PolicyRequest request, string actor, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var row = new PolicyEntity { Id = Guid.CreateVersion7().ToString("N"), Name = "", ImagePattern = "", MaxBump = "", CreatedAt = now };
        if (await ApplyAsync(row, request, ct) is { } bad)
        {
            return bad;
        }

        db.Policies.Add(row);
        audit.Add(actor, "policy.created", row.Id, Describe(row));
        await db.SaveChangesAsync(ct);
        return new(ToDto(row));
    }

    public async Task<PolicyResult> UpdateAsync(string id, PolicyRequest request, string actor, CancellationToken ct)
    {
        var row = await db.Policies.FirstOrDefaultAsync(p => p.Id == id, ct);
        if (row is null)
        {
            return new(null, PolicyError.NotFound);
        }

        if (await ApplyAsync(row, request, ct) is { } bad)
        {
            return bad;
        }

        audit.Add(actor, "policy.updated", row.Id, Describe(row));
        await db.SaveChangesAsync(ct);
        return new(ToDto(row));
    }

    public async Task<bool> DeleteAsync(string id, string actor, CancellationToken ct)
    {
        var row = await db.Policies.FirstOrDefaultAsync(p => p.Id == id, ct);
        if (row is null)
        {
            return false;
        }

        db.Policies.Remove(row);
        audit.Add(actor, "policy.deleted", row.Id, row.Name);
        await db.SaveChangesAsync(ct);
        return true;
    }

    private async Task<PolicyResult?> ApplyAsync(PolicyEntity row, PolicyRequest r, CancellationToken ct)
    {
        static PolicyResult Invalid(string field, string message) => new(null, PolicyError.Invalid, field, message);

        if (string.IsNullOrWhiteSpace(r.Name) || r.Name.Length > 200)
        {
            return Invalid("name", "must be 1 to 200 characters");
        }

        if (string.IsNullOrWhiteSpace(r.ImagePattern) || r.ImagePattern.Length > 500 || r.ImagePattern.Any(char.IsWhiteSpace))
        {
            return Invalid("imagePattern", "must be a glob of 1 to 500 characters without spaces, e.g. ghcr.io/acme/* or *");
        }

        if (Bumps.Rank(r.MaxBump) is null)
        {
            return Invalid("maxBump", $"must be one of {string.Join(", ", Bumps.All)}");
        }

        if (r.MinImageAgeMinutes is < 0 or > 525_600)
        {
            return Invalid("minImageAgeMinutes", "must be from 0 to 525600");
        }

        if (r.MaintenanceWindow is { } w)
        {
            if (w.Cron is null || !PolicyEngine.TryParseCron(w.Cron, out _))
            {
                return Invalid("maintenanceWindow.cron", "not a cron expression with five fields (e.g. '0 2 * * 6' for Saturdays 02:00 UTC)");
            }

            if (w.DurationMinutes is < 1 or > 10_080)
            {
                return Invalid("maintenanceWindow.durationMinutes", "must be from 1 to 10080");
            }
        }

        if (r.AgentId is not null && !await db.Agents.AnyAsync(a => a.Id == r.AgentId, ct))
        {
            return Invalid("agentId", "no agent with this id");
        }

        var name = r.Name.Trim();
        if (await db.Policies.AnyAsync(p => p.Name == name && p.Id != row.Id, ct))
        {
            return new(null, PolicyError.Conflict, Message: $"A policy named '{name}' already exists.");
        }

        row.Name = name;
        row.ImagePattern = r.ImagePattern;
        row.AgentId = r.AgentId;
        row.AutoApprove = r.AutoApprove;
        row.AutoDeploy = r.AutoDeploy;
        row.MaxBump = r.MaxBump;
        row.MinImageAgeMinutes = r.MinImageAgeMinutes is 0 ? null : r.MinImageAgeMinutes;
        row.MaintenanceWindowCron = r.MaintenanceWindow?.Cron;
        row.MaintenanceWindowMinutes = r.MaintenanceWindow?.DurationMinutes;
        row.BlockOnVulnerabilities = r.BlockOnVulnerabilities;
        row.MuteNotifications = r.MuteNotifications;
        row.UpdatedAt = time.GetUtcNow();
        return null;
    }

    private static string Describe(PolicyEntity p) =>
        $"'{p.Name}' {p.ImagePattern}{(p.AgentId is null ? "" : $" on agent {p.AgentId}")}: " +
        $"{(p.AutoDeploy ? "auto-deploy" : p.AutoApprove ? "auto-approve" : "no automatic action")} up to {p.MaxBump}";

    internal static PolicyDto ToDto(PolicyEntity p) => new(p.Id, p.Name, p.ImagePattern, p.AgentId, p.AutoApprove, p.AutoDeploy, p.MaxBump,
        p.MinImageAgeMinutes, p.MaintenanceWindowCron is { } c ? new MaintenanceWindowDto(c, p.MaintenanceWindowMinutes ?? 60) : null,
        p.BlockOnVulnerabilities, p.MuteNotifications, p.CreatedAt, p.UpdatedAt);
}
