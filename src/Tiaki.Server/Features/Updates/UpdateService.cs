using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tiaki.Contracts;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Audit;
using Tiaki.Server.Features.Commands;
using Tiaki.Server.Features.Live;

namespace Tiaki.Server.Features.Updates;

internal sealed record UpdateDto(
    string Id, string AgentId, string ContainerId, string? ContainerName, string? Image, string CurrentTag, string LatestTag,
    string LatestDigest, string? ChangelogUrl, string? Bump, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    string? HeldReason = null, DateTimeOffset? HeldUntil = null, DateTimeOffset? ImageCreatedAt = null)
{
    public string? AgentName { get; init; }

    /// <summary>Vulnerabilities of the candidate image as the agent reported them, when it scanned.</summary>
    public VulnerabilityReport? Vulnerabilities { get; init; }

    /// <summary>The latest deploy or rollback command for this update: how far it got, and its log.</summary>
    public DeploymentDto? Deployment { get; init; }
}

/// <summary>A deploy/rollback as it travels: queued, delivered to the agent (leased), then succeeded or failed.</summary>
public sealed record DeploymentDto(
    string CommandId, string Type, string Status, int Deliveries, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt,
    string? Error, string? Log);

internal enum UpdateActionError { None, NotFound, Conflict }

internal readonly record struct UpdateActionResult(UpdateActionError Error, string? CommandId = null, string? Reason = null, UpdateDto? Update = null);

/// <summary>What an admin (API or dashboard) can do with an update: approve, deploy, ignore, roll back.</summary>
internal sealed class UpdateService(TiakiDbContext db, CommandService commands, AuditLog audit, TimeProvider time)
{
    public async Task<IReadOnlyList<UpdateDto>> ListAsync(string? status, string? agentId, CancellationToken ct)
    {
        var q = db.Updates.AsNoTracking();
        if (status is not null)
        {
            q = q.Where(u => u.Status == status);
        }

        if (agentId is not null)
        {
            q = q.Where(u => u.AgentId == agentId);
        }

        return await ProjectAsync(q, null, ct);
    }

    /// <summary>The most recently changed updates among <paramref name="statuses"/> (the overview's recent deployments).</summary>
    public Task<IReadOnlyList<UpdateDto>> RecentAsync(IReadOnlyCollection<string> statuses, int take, CancellationToken ct)
    {
        var s = statuses.ToArray();
        return ProjectAsync(db.Updates.AsNoTracking().Where(u => s.Contains(u.Status)).OrderByDescending(u => u.UpdatedAt), take, ct);
    }

    public async Task<UpdateDto?> GetAsync(string id, CancellationToken ct) =>
        await ProjectAsync(db.Updates.AsNoTracking().Where(u => u.Id == id), null, ct) is [var one, ..] ? one : null;

    private async Task<IReadOnlyList<UpdateDto>> ProjectAsync(IQueryable<UpdateEntity> q, int? take, CancellationToken ct)
    {
        var projected = q.Select(u => new
        {
            U = u,
            C = db.Containers.Where(c => c.AgentId == u.AgentId && c.ContainerId == u.ContainerId).Select(c => new { c.Name, c.Image }).FirstOrDefault(),
            AgentName = db.Agents.Where(a => a.Id == u.AgentId).Select(a => a.Name).FirstOrDefault(),
            Cmd = db.Commands.Where(c => c.UpdateId == u.Id && c.Type != CommandTypes.Scan).OrderByDescending(c => c.CreatedAt)
                .Select(c => new DeploymentDto(c.Id, c.Type, c.Status, c.Deliveries, c.CreatedAt, c.CompletedAt, c.Error, c.Log))
                .FirstOrDefault(),
        });
        if (take is { } t)
        {
            projected = projected.Take(t);
        }

        var rows = await projected.ToListAsync(ct);
        return rows.OrderByDescending(r => r.U.UpdatedAt)
            .Select(r => ToDto(r.U, r.C?.Name, r.C?.Image) with
            {
                AgentName = r.AgentName,
                Deployment = r.Cmd,
                Vulnerabilities = r.U.VulnerabilitiesJson is { } v ? JsonSerializer.Deserialize<VulnerabilityReport>(v) : null,
            })
            .ToList();
    }

    public Task<UpdateActionResult> ApproveAsync(string id, string actor, CancellationToken ct) =>
        ChangeStatusAsync(id, actor, "update.approved", UpdateStatuses.Approved, [UpdateStatuses.Pending, UpdateStatuses.Failed, UpdateStatuses.Ignored], ct);

    public Task<UpdateActionResult> IgnoreAsync(string id, string actor, CancellationToken ct) =>
        ChangeStatusAsync(id, actor, "update.ignored", UpdateStatuses.Ignored, [UpdateStatuses.Pending, UpdateStatuses.Approved, UpdateStatuses.Failed], ct);

    /// <summary>Takes back an "ignore": the update is offered again.</summary>
    public Task<UpdateActionResult> UnignoreAsync(string id, string actor, CancellationToken ct) =>
        ChangeStatusAsync(id, actor, "update.unignored", UpdateStatuses.Pending, [UpdateStatuses.Ignored], ct);

    public async Task<UpdateActionResult> DeployAsync(string id, string actor, CancellationToken ct)
    {
        var update = await db.Updates.FirstOrDefaultAsync(u => u.Id == id, ct);
        if (update is null)
        {
            return new(UpdateActionError.NotFound);
        }

        if (update.Status is not (UpdateStatuses.Pending or UpdateStatuses.Approved or UpdateStatuses.Failed or UpdateStatuses.RolledBack))
        {
            return new(UpdateActionError.Conflict, Reason: $"An update that is {update.Status} cannot be deployed.");
        }

        var container = await db.Containers.AsNoTracking().FirstOrDefaultAsync(c => c.AgentId == update.AgentId && c.ContainerId == update.ContainerId, ct);
        if (container is null)
        {
            return new(UpdateActionError.Conflict, Reason: "The container is no longer reported by its agent.");
        }

        var command = commands.Stage(update.AgentId, DeployCommand(update, container), update.Id);
        return await CommitAsync(update, UpdateStatuses.Deploying, actor, "update.deploy-requested",
            $"{container.Image}:{update.CurrentTag} -> {update.LatestTag}", command.CommandId, ct);
    }

    public async Task<UpdateActionResult> RollbackAsync(string id, string actor, CancellationToken ct)
    {
        var update = await db.Updates.FirstOrDefaultAsync(u => u.Id == id, ct);
        if (update is null)
        {
            return new(UpdateActionError.NotFound);
        }

        if (update.Status is not (UpdateStatuses.Deployed or UpdateStatuses.Failed))
        {
            return new(UpdateActionError.Conflict, Reason: $"Only a deployed or failed update can be rolled back; this one is {update.Status}.");
        }

        var container = await db.Containers.AsNoTracking().FirstOrDefaultAsync(c => c.AgentId == update.AgentId && c.ContainerId == update.ContainerId, ct);
        var command = commands.Stage(update.AgentId, new AgentCommand(CommandService.NewId(), update.Id, container?.Image, update.LatestTag,
            container?.ComposeFile, container?.ComposeService)
        {
            Type = CommandTypes.Rollback,
            ContainerId = update.ContainerId,
            Namespace = container?.Namespace,
            PreviousTag = update.CurrentTag,
        }, update.Id);
        return await CommitAsync(update, UpdateStatuses.RollingBack, actor, "update.rollback-requested",
            $"{container?.Image}:{update.LatestTag} -> {update.CurrentTag}", command.CommandId, ct);
    }

    private async Task<UpdateActionResult> ChangeStatusAsync(string id, string actor, string action, string to, string[] from, CancellationToken ct)
    {
        var update = await db.Updates.FirstOrDefaultAsync(u => u.Id == id, ct);
        if (update is null)
        {
            return new(UpdateActionError.NotFound);
        }

        if (update.Status == to)
        {
            return new(UpdateActionError.None, Update: ToDto(update, null, null));
        }

        if (!from.Contains(update.Status))
        {
            return new(UpdateActionError.Conflict, Reason: $"An update that is {update.Status} cannot become {to}.");
        }

        return await CommitAsync(update, to, actor, action, $"{update.CurrentTag} -> {update.LatestTag}", null, ct);
    }

    private async Task<UpdateActionResult> CommitAsync(UpdateEntity update, string status, string actor, string action, string detail, string? commandId, CancellationToken ct)
    {
        update.Status = status;
        update.UpdatedAt = time.GetUtcNow();
        audit.Add(actor, action, update.Id, detail);
        await db.SaveChangesAsync(ct);
        if (commandId is not null)
        {
            await commands.PublishAsync([update.AgentId], ct);
        }

        await commands.PublishLiveAsync(LiveChange.UpdateDecision, ct);

        return new(UpdateActionError.None, commandId, Update: ToDto(update, null, null));
    }

    /// <summary>The deploy command for an update; also used by policies deploying automatically.</summary>
    internal static AgentCommand DeployCommand(UpdateEntity update, ContainerEntity container) =>
        new(CommandService.NewId(), update.Id, container.Image, update.LatestTag, container.ComposeFile, container.ComposeService)
        {
            Type = CommandTypes.Deploy,
            ContainerId = container.ContainerId,
            Namespace = container.Namespace,
            LatestDigest = update.LatestDigest,
        };

    private static UpdateDto ToDto(UpdateEntity u, string? name, string? image) =>
        new(u.Id, u.AgentId, u.ContainerId, name, image, u.CurrentTag, u.LatestTag, u.LatestDigest, u.ChangelogUrl, u.Bump, u.Status, u.CreatedAt, u.UpdatedAt,
            u.HeldReason, u.HeldUntil, u.ImageCreatedAt);
}
