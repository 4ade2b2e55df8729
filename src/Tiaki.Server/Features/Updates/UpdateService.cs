using Microsoft.EntityFrameworkCore;
using Tiaki.Contracts;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Audit;
using Tiaki.Server.Features.Commands;

namespace Tiaki.Server.Features.Updates;

internal sealed record UpdateDto(
    string Id, string AgentId, string ContainerId, string? ContainerName, string? Image, string CurrentTag, string LatestTag,
    string LatestDigest, string? ChangelogUrl, string? Bump, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    string? HeldReason = null, DateTimeOffset? HeldUntil = null, DateTimeOffset? ImageCreatedAt = null);

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

        var rows = await q
            .Select(u => new
            {
                U = u,
                C = db.Containers.Where(c => c.AgentId == u.AgentId && c.ContainerId == u.ContainerId).Select(c => new { c.Name, c.Image }).FirstOrDefault(),
            })
            .ToListAsync(ct);
        return rows.OrderByDescending(r => r.U.UpdatedAt).Select(r => ToDto(r.U, r.C?.Name, r.C?.Image)).ToList();
    }

    public async Task<UpdateDto?> GetAsync(string id, CancellationToken ct) =>
        (await ListAsync(null, null, ct)).FirstOrDefault(u => u.Id == id);

    public Task<UpdateActionResult> ApproveAsync(string id, string actor, CancellationToken ct) =>
        ChangeStatusAsync(id, actor, "update.approved", UpdateStatuses.Approved, [UpdateStatuses.Pending, UpdateStatuses.Failed, UpdateStatuses.Ignored], ct);

    public Task<UpdateActionResult> IgnoreAsync(string id, string actor, CancellationToken ct) =>
        ChangeStatusAsync(id, actor, "update.ignored", UpdateStatuses.Ignored, [UpdateStatuses.Pending, UpdateStatuses.Approved, UpdateStatuses.Failed], ct);

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
