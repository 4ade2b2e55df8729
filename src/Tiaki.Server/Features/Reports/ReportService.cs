using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Prometheus;
using Tiaki.Contracts;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Policies;

namespace Tiaki.Server.Features.Reports;

internal sealed record ContainerDto(
    string Id, string AgentId, string ContainerId, string Name, string Image, string Tag, string Digest,
    string? ComposeFile, string? ComposeService, string? ComposeProject, string? Namespace, string? Workload,
    IReadOnlyDictionary<string, string>? Labels, string? CheckError, DateTimeOffset UpdatedAt);

/// <summary>Applies an agent's report: its full current state replaces what we knew.</summary>
internal sealed class ReportService(TiakiDbContext db, PolicyAutomation automation, TimeProvider time)
{
    private static readonly Counter Ingested = Metrics.CreateCounter("tiaki_reports_ingested_total", "Agent reports applied");

    // Statuses that describe something that happened (history), kept when the container goes away.
    private static readonly HashSet<string> Disposable = [UpdateStatuses.Pending, UpdateStatuses.Approved, UpdateStatuses.Ignored];

    public static (string Field, string Error)? Validate(SubmitReportRequest report)
    {
        for (var i = 0; i < report.Containers.Count; i++)
        {
            var c = report.Containers[i];
            if (c is null)
            {
                return ($"containers[{i}]", "must not be null");
            }

            if (string.IsNullOrWhiteSpace(c.ContainerId))
            {
                return ($"containers[{i}].containerId", "must not be empty");
            }
        }

        for (var i = 0; i < (report.Updates?.Count ?? 0); i++)
        {
            var u = report.Updates![i];
            if (u is null)
            {
                return ($"updates[{i}]", "must not be null");
            }

            if (string.IsNullOrWhiteSpace(u.ContainerId))
            {
                return ($"updates[{i}].containerId", "must not be empty");
            }
        }

        return null;
    }

    public async Task SubmitAsync(string agentId, SubmitReportRequest report, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var reported = new Dictionary<string, ContainerReport>(StringComparer.Ordinal);
        foreach (var c in report.Containers)
        {
            reported[c.ContainerId] = c;
        }

        var existing = await db.Containers.Where(c => c.AgentId == agentId).ToDictionaryAsync(c => c.ContainerId, StringComparer.Ordinal, ct);
        foreach (var (id, c) in reported)
        {
            if (!existing.TryGetValue(id, out var row))
            {
                row = new ContainerEntity
                {
                    Id = Guid.CreateVersion7().ToString("N"), AgentId = agentId, ContainerId = id,
                    Name = c.Name, Image = c.Image, Tag = c.Tag, Digest = c.Digest,
                };
                db.Containers.Add(row);
            }

            var labels = c.Labels is { Count: > 0 } l ? JsonSerializer.Serialize(l) : null;
            // Most reports repeat what we know: leave unchanged rows alone so the save writes only real changes.
            if (db.Entry(row).State == EntityState.Added || row.Name != c.Name || row.Image != c.Image || row.Tag != c.Tag ||
                row.Digest != c.Digest || row.ComposeFile != c.ComposeFile || row.ComposeService != c.ComposeService ||
                row.ComposeProject != c.ComposeProject || row.Namespace != c.Namespace || row.Workload != c.Workload ||
                row.LabelsJson != labels || row.CheckError != c.CheckError)
            {
                row.Name = c.Name;
                row.Image = c.Image;
                row.Tag = c.Tag;
                row.Digest = c.Digest;
                row.ComposeFile = c.ComposeFile;
                row.ComposeService = c.ComposeService;
                row.ComposeProject = c.ComposeProject;
                row.Namespace = c.Namespace;
                row.Workload = c.Workload;
                row.LabelsJson = labels;
                row.CheckError = c.CheckError;
                row.UpdatedAt = now;
            }
        }

        var vanished = existing.Values.Where(r => !reported.ContainsKey(r.ContainerId)).ToList();
        db.Containers.RemoveRange(vanished);

        var updates = await db.Updates.Where(u => u.AgentId == agentId).ToDictionaryAsync(u => u.ContainerId, StringComparer.Ordinal, ct);
        foreach (var v in vanished)
        {
            if (updates.TryGetValue(v.ContainerId, out var u) && Disposable.Contains(u.Status))
            {
                db.Updates.Remove(u);
            }
        }

        // A missing or null `updates` means the agent did not check this time: keep what we have.
        if (report.Updates is { } reportedUpdates)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var offered = new List<UpdateEntity>();
            foreach (var u in reportedUpdates)
            {
                if (!reported.ContainsKey(u.ContainerId) || !seen.Add(u.ContainerId))
                {
                    continue;
                }

                if (!updates.TryGetValue(u.ContainerId, out var row))
                {
                    row = new UpdateEntity
                    {
                        Id = Guid.CreateVersion7().ToString(), AgentId = agentId, ContainerId = u.ContainerId,
                        CurrentTag = u.CurrentTag, LatestTag = u.LatestTag, LatestDigest = u.LatestDigest,
                        Status = UpdateStatuses.Pending, CreatedAt = now, CandidateSeenAt = now,
                    };
                    db.Updates.Add(row);
                }
                else if (!string.Equals(row.LatestDigest, u.LatestDigest, StringComparison.Ordinal) &&
                         row.Status is not (UpdateStatuses.Deploying or UpdateStatuses.RollingBack))
                {
                    // A new candidate: whatever was decided about the old one (deployed, ignored, approved) no longer applies.
                    row.Status = UpdateStatuses.Pending;
                    row.CandidateSeenAt = now;
                }

                row.ImageCreatedAt = u.ImageCreatedAt;
                if (!string.Equals(row.NotifiedDigest, u.LatestDigest, StringComparison.Ordinal))
                {
                    // New to policies; candidates already handled are re-checked by the evaluator, not on every report.
                    offered.Add(row);
                }

                var vulns = u.Vulnerabilities is { } vr ? JsonSerializer.Serialize(vr) : null;
                if (db.Entry(row).State == EntityState.Added || row.CurrentTag != u.CurrentTag || row.LatestTag != u.LatestTag ||
                    row.LatestDigest != u.LatestDigest || row.ChangelogUrl != u.ChangelogUrl || row.Bump != u.Bump ||
                    row.VulnerabilitiesJson != vulns || db.Entry(row).Property(x => x.Status).IsModified)
                {
                    row.CurrentTag = u.CurrentTag;
                    row.LatestTag = u.LatestTag;
                    row.LatestDigest = u.LatestDigest;
                    row.ChangelogUrl = u.ChangelogUrl;
                    row.Bump = u.Bump;
                    row.VulnerabilitiesJson = vulns;
                    row.UpdatedAt = now;
                }
            }

            // Offers the agent no longer makes (the container is up to date now) go away; decisions stay as history.
            foreach (var row in updates.Values)
            {
                if (!seen.Contains(row.ContainerId) && row.Status is UpdateStatuses.Pending or UpdateStatuses.Approved &&
                    db.Entry(row).State != EntityState.Deleted)
                {
                    db.Updates.Remove(row);
                }
            }

            // Policies act in the same transaction: the report and what it triggers (deploys, the digest) commit together.
            await automation.ApplyAsync(offered, ct);
        }

        await db.SaveChangesAsync(ct);
        await db.Agents.Where(a => a.Id == agentId).ExecuteUpdateAsync(x => x.SetProperty(a => a.LastSeenAt, now), ct);
        await automation.PublishAsync(ct);
        Ingested.Inc();
    }

    public async Task<IReadOnlyList<ContainerDto>> ListContainersAsync(string? agentId, CancellationToken ct)
    {
        var q = db.Containers.AsNoTracking();
        if (agentId is not null)
        {
            q = q.Where(c => c.AgentId == agentId);
        }

        var rows = await q.OrderBy(c => c.AgentId).ThenBy(c => c.Name).ToListAsync(ct);
        return rows.Select(c => new ContainerDto(c.Id, c.AgentId, c.ContainerId, c.Name, c.Image, c.Tag, c.Digest, c.ComposeFile,
            c.ComposeService, c.ComposeProject, c.Namespace, c.Workload,
            c.LabelsJson is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(c.LabelsJson), c.CheckError, c.UpdatedAt)).ToList();
    }
}
