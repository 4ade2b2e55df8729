using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Prometheus;
using Tiaki.Contracts;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Commands;
using Tiaki.Server.Features.Live;
using Tiaki.Server.Features.Policies;

namespace Tiaki.Server.Features.Reports;

internal sealed record ContainerDto(
    string Id, string AgentId, string ContainerId, string Name, string Image, string Tag, string Digest,
    string? ComposeFile, string? ComposeService, string? ComposeProject, string? Namespace, string? Workload,
    IReadOnlyDictionary<string, string>? Labels, string? CheckError, DateTimeOffset UpdatedAt);

public enum ContainerSort { Host, Name, Image, Tag, Update }

/// <summary>One page of the fleet-wide container table: filter by host and by "has update", search by name or image.</summary>
/// <remarks>Public because a (public) Razor component takes it as a parameter.</remarks>
public sealed record ContainerQuery(
    string? AgentId = null, bool HasUpdate = false, string? Search = null, ContainerSort Sort = ContainerSort.Host,
    bool Descending = false, int Skip = 0, int Take = 50)
{
    public const int MaxTake = 500;

    public (string Field, string Error)? Validate() =>
        Take is < 1 or > MaxTake ? ("take", $"must be from 1 to {MaxTake}")
        : Skip < 0 ? ("skip", "must not be negative")
        : Search is { Length: > 200 } ? ("search", "must be at most 200 characters")
        : null;
}

/// <summary>A container with its host's name and the update offered for it, if any.</summary>
internal sealed record ContainerRow(
    string Id, string AgentId, string AgentName, string ContainerId, string Name, string Image, string Tag, string Digest,
    string? ComposeProject, string? ComposeService, string? Namespace, string? Workload, string? CheckError,
    string? UpdateId, string? UpdateStatus, string? LatestTag, string? Bump, DateTimeOffset UpdatedAt);

internal sealed record ContainerPage(IReadOnlyList<ContainerRow> Items, int Total);

/// <summary>Applies an agent's report: its full current state replaces what we knew.</summary>
internal sealed class ReportService(TiakiDbContext db, PolicyAutomation automation, TimeProvider time, CommandNotifier notifier)
{
    /// <summary>Update statuses that mean "this container has an update waiting or under way".</summary>
    public static readonly IReadOnlyList<string> OpenUpdateStatuses =
        [UpdateStatuses.Pending, UpdateStatuses.Approved, UpdateStatuses.Failed, UpdateStatuses.Deploying];

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
        await notifier.PublishLiveAsync(db, LiveChange.Report, ct);
    }

    public async Task<ContainerPage> QueryContainersAsync(ContainerQuery query, CancellationToken ct)
    {
        var open = OpenUpdateStatuses.ToArray();
        var rows =
            from c in db.Containers.AsNoTracking()
            join a in db.Agents.AsNoTracking() on c.AgentId equals a.Id
            join u0 in db.Updates.AsNoTracking() on new { c.AgentId, c.ContainerId } equals new { u0.AgentId, u0.ContainerId } into us
            from u in us.DefaultIfEmpty()
            select new { C = c, AgentName = a.Name, U = u };

        if (query.AgentId is { } agentId)
        {
            rows = rows.Where(r => r.C.AgentId == agentId);
        }

        if (query.HasUpdate)
        {
            rows = rows.Where(r => r.U != null && open.Contains(r.U.Status));
        }

        if (query.Search?.Trim() is { Length: > 0 } search)
        {
            // lower() on both sides: case-insensitive on SQLite and PostgreSQL alike.
            var s = search.ToLowerInvariant();
#pragma warning disable CA1862 // the StringComparison overload does not translate to SQL
            rows = rows.Where(r => r.C.Name.ToLower().Contains(s) || r.C.Image.ToLower().Contains(s));
#pragma warning restore CA1862
        }

        var total = await rows.CountAsync(ct);
        rows = (query.Sort, query.Descending) switch
        {
            (ContainerSort.Name, false) => rows.OrderBy(r => r.C.Name).ThenBy(r => r.AgentName),
            (ContainerSort.Name, true) => rows.OrderByDescending(r => r.C.Name).ThenBy(r => r.AgentName),
            (ContainerSort.Image, false) => rows.OrderBy(r => r.C.Image).ThenBy(r => r.C.Name),
            (ContainerSort.Image, true) => rows.OrderByDescending(r => r.C.Image).ThenBy(r => r.C.Name),
            (ContainerSort.Tag, false) => rows.OrderBy(r => r.C.Tag).ThenBy(r => r.C.Name),
            (ContainerSort.Tag, true) => rows.OrderByDescending(r => r.C.Tag).ThenBy(r => r.C.Name),
            // Containers with an update first (descending: last), then by host and name.
            (ContainerSort.Update, false) => rows.OrderBy(r => r.U == null || !open.Contains(r.U.Status)).ThenBy(r => r.AgentName).ThenBy(r => r.C.Name),
            (ContainerSort.Update, true) => rows.OrderByDescending(r => r.U == null || !open.Contains(r.U.Status)).ThenBy(r => r.AgentName).ThenBy(r => r.C.Name),
            (_, false) => rows.OrderBy(r => r.AgentName).ThenBy(r => r.C.Name),
            (_, true) => rows.OrderByDescending(r => r.AgentName).ThenBy(r => r.C.Name),
        };

        var page = await rows.Skip(query.Skip).Take(query.Take)
            .Select(r => new ContainerRow(r.C.Id, r.C.AgentId, r.AgentName, r.C.ContainerId, r.C.Name, r.C.Image, r.C.Tag, r.C.Digest,
                r.C.ComposeProject, r.C.ComposeService, r.C.Namespace, r.C.Workload, r.C.CheckError,
                r.U == null ? null : r.U.Id, r.U == null ? null : r.U.Status, r.U == null ? null : r.U.LatestTag,
                r.U == null ? null : r.U.Bump, r.C.UpdatedAt))
            .ToListAsync(ct);
        return new ContainerPage(page, total);
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
