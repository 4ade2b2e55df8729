using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tiaki.Contracts;
using Tiaki.Server.Configuration;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Audit;
using Tiaki.Server.Features.Commands;
using Tiaki.Server.Features.Notifications;
using Tiaki.Server.Features.Updates;

namespace Tiaki.Server.Features.Policies;

/// <summary>
/// Applies policies to open updates (pending or approved): holds back too-young images, announces what is offered
/// (one digest per call), auto-approves and auto-deploys within the max bump, the window and the vulnerability gate.
/// Everything is staged on the caller's DbContext so it commits with the report (or the evaluator's pass).
/// </summary>
internal sealed partial class PolicyAutomation(
    TiakiDbContext db,
    CommandService commands,
    AuditLog audit,
    NotificationOutbox outbox,
    TimeProvider time,
    ILogger<PolicyAutomation> logger)
{
    public const string HeldTooYoung = "image too young";
    public const string HeldWindow = "waiting for the maintenance window";
    public const string HeldVulnerabilities = "candidate brings new critical/high vulnerabilities";

    private readonly HashSet<string> _wake = new(StringComparer.Ordinal);
    private bool _claim;

    /// <summary>Agents that got a command from the last <see cref="ApplyAsync"/>; pass to <see cref="PublishAsync"/> after saving.</summary>
    public IReadOnlyCollection<string> AgentsToWake => _wake;

    public async Task ApplyAsync(IReadOnlyCollection<UpdateEntity> updates, CancellationToken ct)
    {
        var open = updates.Where(u => u.Status is UpdateStatuses.Pending or UpdateStatuses.Approved && db.Entry(u).State != EntityState.Deleted).ToList();
        if (open.Count == 0)
        {
            return;
        }

        var agentIds = open.Select(u => u.AgentId).Distinct().ToList();
        var containers = (await db.Containers.Where(c => agentIds.Contains(c.AgentId)).ToListAsync(ct))
            .ToDictionary(c => (c.AgentId, c.ContainerId));
        // Containers added in this same unit of work are not in the database yet.
        foreach (var c in db.ChangeTracker.Entries<ContainerEntity>().Where(e => e.State == EntityState.Added).Select(e => e.Entity))
        {
            containers[(c.AgentId, c.ContainerId)] = c;
        }

        var agents = await db.Agents.AsNoTracking().Where(a => agentIds.Contains(a.Id)).ToDictionaryAsync(a => a.Id, a => a.Name, ct);
        var policies = await db.Policies.AsNoTracking().ToListAsync(ct);
        var now = time.GetUtcNow();
        var found = new List<FoundUpdate>();

        foreach (var u in open.OrderBy(u => u.AgentId, StringComparer.Ordinal).ThenBy(u => u.ContainerId, StringComparer.Ordinal))
        {
            if (!containers.TryGetValue((u.AgentId, u.ContainerId), out var container))
            {
                continue;
            }

            var policy = PolicyEngine.Match(policies, u.AgentId, container.Image);
            var agentName = agents.GetValueOrDefault(u.AgentId, u.AgentId);

            // Minimum age: the update is not offered at all (no notification, no automatic action) until old enough.
            if (policy?.MinImageAgeMinutes is { } minutes)
            {
                var built = u.ImageCreatedAt ?? u.CandidateSeenAt ?? now;
                var ready = built + TimeSpan.FromMinutes(minutes);
                if (now < ready)
                {
                    Hold(u, HeldTooYoung, ready);
                    continue;
                }
            }

            if (!string.Equals(u.NotifiedDigest, u.LatestDigest, StringComparison.Ordinal))
            {
                u.NotifiedDigest = u.LatestDigest;
                if (policy is not { MuteNotifications: true })
                {
                    found.Add(new FoundUpdate(u.Id, agentName, container.Name, container.Image, u.CurrentTag, u.LatestTag, PolicyEngine.BumpOf(u)));
                }
            }

            if (policy is null || !PolicyEngine.WithinMaxBump(policy, u))
            {
                Hold(u, null, null);
                continue;
            }

            var actor = $"policy:{policy.Name}";
            if (policy.AutoApprove && u.Status == UpdateStatuses.Pending)
            {
                u.Status = UpdateStatuses.Approved;
                u.UpdatedAt = now;
                audit.Add(actor, "update.approved", u.Id, $"approved by policy {policy.Name}: {container.Image}:{u.CurrentTag} -> {u.LatestTag}");
            }

            if (!policy.AutoDeploy)
            {
                Hold(u, null, null);
                continue;
            }

            if (policy.BlockOnVulnerabilities && PolicyEngine.IntroducesCriticalOrHigh(Vulnerabilities(u)))
            {
                if (u.HeldReason != HeldVulnerabilities)
                {
                    audit.Add(actor, "update.auto-deploy-blocked", u.Id,
                        $"not deployed by policy {policy.Name}: {container.Image}:{u.LatestTag} brings new critical/high vulnerabilities");
                }

                Hold(u, HeldVulnerabilities, null);
                continue;
            }

            if (policy.MaintenanceWindowCron is { } cronText && PolicyEngine.TryParseCron(cronText, out var cron))
            {
                var (isOpen, next) = PolicyEngine.Window(cron!, TimeSpan.FromMinutes(policy.MaintenanceWindowMinutes ?? 60), now);
                if (!isOpen)
                {
                    Hold(u, HeldWindow, next);
                    continue;
                }
            }

            if (_claim && !await ClaimAsync(u, now, ct))
            {
                // A report or an admin acted on it meanwhile: theirs wins; drop what this pass changed on the row.
                await db.Entry(u).ReloadAsync(ct);
                continue;
            }

            var command = commands.Stage(u.AgentId, UpdateService.DeployCommand(u, container), u.Id);
            u.Status = UpdateStatuses.Deploying;
            u.UpdatedAt = now;
            Hold(u, null, null);
            audit.Add(actor, "update.deploy-requested", u.Id,
                $"deployed by policy {policy.Name}: {container.Image}:{u.CurrentTag} -> {u.LatestTag}");
            _wake.Add(u.AgentId);
            LogAutoDeploy(policy.Name, container.Name, agentName, u.LatestTag, command.CommandId);
        }

        await outbox.StageUpdatesFoundAsync(found, ct);
    }

    /// <summary>Re-evaluates every open update (held ones become due as time passes); used by <see cref="PolicyEvaluator"/>.</summary>
    public async Task ApplyToAllOpenAsync(CancellationToken ct)
    {
        var open = await db.Updates.Where(u => u.Status == UpdateStatuses.Pending || u.Status == UpdateStatuses.Approved).ToListAsync(ct);
        // These rows were read a while ago: claim each before deploying so a concurrent report cannot deploy it twice.
        _claim = true;
        try
        {
            await ApplyAsync(open, ct);
        }
        finally
        {
            _claim = false;
        }
    }

    /// <summary>Moves the row to deploying only if nobody changed it since it was read (run inside the pass's transaction).</summary>
    private async Task<bool> ClaimAsync(UpdateEntity u, DateTimeOffset now, CancellationToken ct)
    {
        var entry = db.Entry(u);
        var status = entry.Property(x => x.Status).OriginalValue;
        var digest = entry.Property(x => x.LatestDigest).OriginalValue;
        var claimed = await db.Updates
            .Where(x => x.Id == u.Id && x.Status == status && x.LatestDigest == digest)
            .ExecuteUpdateAsync(x => x.SetProperty(r => r.Status, UpdateStatuses.Deploying).SetProperty(r => r.UpdatedAt, now), ct);
        return claimed == 1;
    }

    /// <summary>After SaveChanges: wakes long-polling agents and the notification dispatcher.</summary>
    public async Task PublishAsync(CancellationToken ct)
    {
        outbox.Flush();
        if (_wake.Count > 0)
        {
            await commands.PublishAsync(_wake.ToList(), ct);
            _wake.Clear();
        }
    }

    private static void Hold(UpdateEntity u, string? reason, DateTimeOffset? until)
    {
        u.HeldReason = reason;
        u.HeldUntil = until;
    }

    private static VulnerabilityReport? Vulnerabilities(UpdateEntity u) =>
        u.VulnerabilitiesJson is null ? null : JsonSerializer.Deserialize<VulnerabilityReport>(u.VulnerabilitiesJson);

    [LoggerMessage(80, LogLevel.Information, "Policy {Policy} deploys {Container} on {Agent} to {Tag} (command {CommandId})")]
    private partial void LogAutoDeploy(string policy, string container, string agent, string tag, string commandId);
}

/// <summary>When the evaluator last finished a pass; the admin API shows it.</summary>
internal sealed class PolicyEvaluatorState
{
    private long _lastTicks;

    public DateTimeOffset? LastRunAt => Interlocked.Read(ref _lastTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    public void Completed(DateTimeOffset at) => Interlocked.Exchange(ref _lastTicks, at.UtcTicks);
}

/// <summary>
/// On a timer (POLICY_EVALUATION_SECONDS): releases held-back updates whose image is old enough or whose window opened,
/// and notices agents going offline and coming back. One replica runs it (the scheduler's leadership).
/// </summary>
internal sealed partial class PolicyEvaluator(
    IServiceScopeFactory scopes,
    Scheduling.SchedulerLeadership leadership,
    PolicyEvaluatorState state,
    TimeProvider time,
    IOptions<NotificationOptions> notificationOptions,
    IOptions<TiakiOptions> options,
    ILogger<PolicyEvaluator> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(notificationOptions.Value.EvaluationInterval, time, stoppingToken);
                await RunOnceAsync(stoppingToken);
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
        }
    }

    internal async Task RunOnceAsync(CancellationToken ct)
    {
        var started = time.GetUtcNow();
        if (await leadership.TryAcquireAsync(ct))
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TiakiDbContext>();
            var automation = scope.ServiceProvider.GetRequiredService<PolicyAutomation>();
            var outbox = scope.ServiceProvider.GetRequiredService<NotificationOutbox>();
            await using (var tx = await db.Database.BeginTransactionAsync(ct))
            {
                await automation.ApplyToAllOpenAsync(ct);
                await CheckPresenceAsync(db, outbox, started, ct);
                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
            }

            // The delivery history is for troubleshooting, not an archive.
            var cutoff = started - notificationOptions.Value.Retention;
            await db.NotificationDeliveries
                .Where(d => (d.Status == DeliveryStatuses.Sent || d.Status == DeliveryStatuses.Failed) && d.CreatedAt < cutoff)
                .ExecuteDeleteAsync(ct);
            await automation.PublishAsync(ct);
        }

        state.Completed(started);
    }

    private async Task CheckPresenceAsync(TiakiDbContext db, NotificationOutbox outbox, DateTimeOffset now, CancellationToken ct)
    {
        var onlineSince = now - options.Value.OfflineAfter(now);
        var agents = await db.Agents.Where(a => a.LastSeenAt != null).ToListAsync(ct);
        foreach (var a in agents)
        {
            var online = a.LastSeenAt > onlineSince;
            if (!online && a.OfflineSince is null)
            {
                a.OfflineSince = now;
                await outbox.StageAgentPresenceAsync(a, online: false, now);
                LogPresence(a.Name, "offline");
            }
            else if (online && a.OfflineSince is { } since && a.LastSeenAt > since)
            {
                a.OfflineSince = null;
                await outbox.StageAgentPresenceAsync(a, online: true, now);
                LogPresence(a.Name, "back online");
            }
        }
    }

    [LoggerMessage(81, LogLevel.Information, "Agent {Agent} is {State}")]
    private partial void LogPresence(string agent, string state);

    [LoggerMessage(82, LogLevel.Error, "Policy evaluation pass failed")]
    private partial void LogPassFailed(Exception ex);
}
