using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Tiaki.Agent.Core.Compose;
using Tiaki.Agent.Core.Git;
using Tiaki.Agent.Core.Processes;
using Tiaki.Agent.Core.Runtime;
using Tiaki.Contracts;

namespace Tiaki.Agent.Docker.Runtime;

internal sealed record DockerRuntimeSettings(string DockerHost, TimeSpan HealthTimeout, string? RegistryAuthFile, GitSettings Git);

/// <summary>The Docker engine behind the agent's port: scan, deploy (compose or recreate), health gate, rollback.</summary>
internal sealed partial class DockerRuntime(
    DockerClient docker,
    DockerRuntimeSettings settings,
    IProcessRunner processes,
    TimeProvider time,
    ILogger<DockerRuntime> logger) : IContainerRuntime
{
    internal const string ProjectLabel = "com.docker.compose.project";
    internal const string ServiceLabel = "com.docker.compose.service";
    internal const string WorkingDirLabel = "com.docker.compose.project.working_dir";
    private readonly ComposeCli compose = new(processes, settings.DockerHost);
    private readonly RegistryAuth auth = new(settings.RegistryAuthFile);
    private readonly GitCommitter git = new(processes, settings.Git);

    public string AgentType => AgentTypes.Vm;

    public async Task<IReadOnlyList<ScannedContainer>> ScanAsync(CancellationToken cancellationToken)
    {
        var list = await docker.Containers.ListContainersAsync(new ContainersListParameters { All = false }, cancellationToken);
        var images = new Dictionary<string, ImageInspectResponse?>(StringComparer.Ordinal);
        var result = new List<ScannedContainer>(list.Count);
        foreach (var c in list)
        {
            var labels = c.Labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(c.Labels);
            if (labels.TryGetValue("tiaki.enable", out var enable) && enable.Equals("false", StringComparison.OrdinalIgnoreCase)) continue;
            if (!images.TryGetValue(c.ImageID, out var image))
            {
                try
                {
                    image = await docker.Images.InspectImageAsync(c.ImageID, cancellationToken);
                }
                catch (DockerApiException)
                {
                    image = null; // removed meanwhile; report what the container says
                }
                images[c.ImageID] = image;
            }

            var reference = c.Image;
            if (reference.StartsWith("sha256:", StringComparison.Ordinal) && image?.RepoTags is { Count: > 0 } tags) reference = tags[0];
            var parsed = ImageReference.Parse(reference);
            var repoDigests = image?.RepoDigests?.ToList() ?? [];
            var digest = repoDigests.FirstOrDefault(d => d.StartsWith(parsed.Repository + "@", StringComparison.Ordinal))
                ?? repoDigests.FirstOrDefault();
            digest = digest is null ? parsed.Digest ?? c.ImageID : digest[(digest.IndexOf('@', StringComparison.Ordinal) + 1)..];

            string? composeFile = null;
            labels.TryGetValue(ServiceLabel, out var service);
            labels.TryGetValue(ProjectLabel, out var project);
            if (service is not null) composeFile = ComposeFiles.FileDefiningImage(ComposeFiles.FromLabels(labels), service);

            var report = new ContainerReport(c.ID, c.Names?.FirstOrDefault()?.TrimStart('/') ?? c.ID[..12], parsed.Repository, parsed.TagOrLatest, digest,
                composeFile, composeFile is null ? null : service)
            {
                ComposeProject = composeFile is null ? null : project,
                Labels = labels.Where(l => l.Key.StartsWith("tiaki.", StringComparison.Ordinal)).ToDictionary(),
            };
            result.Add(new ScannedContainer(report, reference, repoDigests, labels));
        }
        return result;
    }

    public async Task<CommandOutcome> ExecuteAsync(AgentCommand command, ScannedContainer target, CancellationToken cancellationToken)
    {
        var tag = command.Type == CommandTypes.Rollback ? command.PreviousTag! : command.LatestTag!;
        var log = new StringBuilder();
        var newImage = $"{target.Report.Image}:{tag}";
        log.AppendLine($"{command.Type} {target.Report.Name}: {target.ImageReference} -> {newImage}");

        var pull = await PullAsync(target.Report.Image, tag, cancellationToken);
        if (pull is not null) return CommandOutcome.Failed($"pull of {newImage} failed: {pull}", log.ToString());
        log.AppendLine($"pulled {newImage}");

        return target.Report.ComposeFile is not null && target.Report.ComposeService is not null
            ? await DeployComposeAsync(command, target, tag, log, cancellationToken)
            : await RecreateAsync(target, newImage, log, cancellationToken);
    }

    private async Task<string?> PullAsync(string repository, string tag, CancellationToken ct)
    {
        var errors = new List<string>();
        try
        {
            await docker.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, auth.ForRepository(repository),
                new Progress<JSONMessage>(m => { if (m.Error is not null) lock (errors) errors.Add(m.Error.Message ?? "error"); }), ct);
        }
        catch (DockerApiException ex)
        {
            return ex.ResponseBody is { Length: > 0 } body ? body.Trim() : ex.Message;
        }
        lock (errors) return errors.Count > 0 ? string.Join("; ", errors) : null;
    }

    private async Task<CommandOutcome> DeployComposeAsync(AgentCommand command, ScannedContainer target, string tag, StringBuilder log, CancellationToken ct)
    {
        var file = target.Report.ComposeFile!;
        var service = target.Report.ComposeService!;
        var project = target.Report.ComposeProject ?? target.Labels.GetValueOrDefault(ProjectLabel) ?? Path.GetFileName(Path.GetDirectoryName(file))!;
        var files = ComposeFiles.FromLabels(target.Labels);
        if (files.Count == 0) files = [file];
        var workingDir = target.Labels.GetValueOrDefault(WorkingDirLabel);

        var edit = ComposeFileEditor.PlanTagChange(file, service, tag);
        if (!edit.Succeeded) return CommandOutcome.Failed(edit.Error!, log.ToString());
        // Same tag (a digest update of e.g. latest): the file stays as it is, only the image is new.
        var paths = edit.Changes.Where(c => !c.Before.AsSpan().SequenceEqual(c.After)).Select(c => c.Path).ToList();
        var dirty = paths.Count > 0 ? await git.DirtyFilesAsync(paths, ct) : null;
        edit.Apply();
        log.AppendLine($"{string.Join(", ", paths)}: {edit.OldImage} -> {edit.NewImage}");

        var up = await compose.UpServiceAsync(project, workingDir, files, service, ct);
        log.Append(up.StandardOutput).Append(up.StandardError);
        string? failure = null;
        if (!up.Succeeded) failure = up.Describe("compose up");
        else
        {
            var container = await FindServiceContainerAsync(project, service, ct);
            if (container is null) failure = $"no container of service {service} after compose up";
            else
            {
                var (ok, reason) = await HealthGateAsync(container, ct);
                if (!ok)
                {
                    failure = $"health gate: {reason}";
                    log.AppendLine("--- container log ---").AppendLine(await LogsAsync(container, ct));
                }
            }
        }

        if (failure is not null)
        {
            edit.Revert();
            var back = await compose.UpServiceAsync(project, workingDir, files, service, ct);
            var rolledBack = back.Succeeded ? $"rolled back to {edit.OldImage}" : back.Describe($"rollback to {edit.OldImage} failed");
            log.AppendLine(rolledBack);
            LogRolledBack(logger, service, failure);
            return CommandOutcome.Failed($"{failure}; {rolledBack}", log.ToString());
        }

        if (paths.Count == 0) return CommandOutcome.Ok(log.AppendLine("compose file unchanged (same tag, new image)").ToString());
        var verb = command.Type == CommandTypes.Rollback ? "roll back" : "update";
        var commit = await git.CommitAsync(paths, $"tiaki: {verb} {service} from {ImageReference.Parse(edit.OldImage).TagOrLatest} to {tag}", dirty, ct);
        log.AppendLine("git: " + commit.Message);
        return CommandOutcome.Ok(log.ToString());
    }

    private async Task<string?> FindServiceContainerAsync(string project, string service, CancellationToken ct)
    {
        var list = await docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{ProjectLabel}={project}"] = true, [$"{ServiceLabel}={service}"] = true },
            },
        }, ct);
        return list.OrderByDescending(c => c.Created).FirstOrDefault()?.ID;
    }

    /// <summary>
    /// A plain container: create its twin on the new image with the same name, env, mounts,
    /// networks, ports, labels, restart policy and command; keep the old one (stopped, renamed) until
    /// the new one passes the health gate.
    /// </summary>
    private async Task<CommandOutcome> RecreateAsync(ScannedContainer target, string newImage, StringBuilder log, CancellationToken ct)
    {
        var old = await docker.Containers.InspectContainerAsync(target.Report.ContainerId, ct);
        ImageInspectResponse? oldImage = null;
        try
        {
            oldImage = await docker.Images.InspectImageAsync(old.Image, ct);
        }
        catch (DockerApiException)
        {
            // image gone: carry everything over as set on the container
        }
        var name = (old.Name ?? target.Report.Name).TrimStart('/');
        var parameters = ContainerSpec.ForNewImage(old, oldImage, newImage);
        var parked = $"{name}-tiaki-old-{old.ID[..12]}";

        await docker.Containers.StopContainerAsync(old.ID, new ContainerStopParameters { WaitBeforeKillSeconds = 10 }, ct);
        var renamed = false;
        string? newId = null;
        string? failure = null;
        try
        {
            await docker.Containers.RenameContainerAsync(old.ID, new ContainerRenameParameters { NewName = parked }, ct);
            renamed = true;
            var created = await docker.Containers.CreateContainerAsync(parameters, ct);
            newId = created.ID;
            foreach (var (network, endpoint) in ContainerSpec.ExtraNetworks(old))
                await docker.Networks.ConnectNetworkAsync(network, new NetworkConnectParameters { Container = newId, EndpointConfig = endpoint }, ct);
            await docker.Containers.StartContainerAsync(newId, new ContainerStartParameters(), ct);
            log.AppendLine($"recreated {name} as {newId[..12]} on {newImage}");
            var (ok, reason) = await HealthGateAsync(newId, ct);
            if (!ok)
            {
                failure = $"health gate: {reason}";
                log.AppendLine("--- container log ---").AppendLine(await LogsAsync(newId, ct));
            }
        }
        // Whatever interrupts the swap (engine error, lost connection, the agent stopping), the old
        // container must come back: a deploy never leaves the service down.
        catch (Exception ex)
        {
            failure = ex is DockerApiException api ? $"recreate failed: {api.ResponseBody?.Trim() ?? api.Message}" : $"recreate interrupted: {ex.Message}";
        }

        if (failure is null)
        {
            await docker.Containers.RemoveContainerAsync(old.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
            return CommandOutcome.Ok(log.ToString());
        }

        if (newId is not null) await docker.Containers.RemoveContainerAsync(newId, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        if (renamed) await docker.Containers.RenameContainerAsync(old.ID, new ContainerRenameParameters { NewName = name }, CancellationToken.None);
        await docker.Containers.StartContainerAsync(old.ID, new ContainerStartParameters(), CancellationToken.None);
        var rolledBack = $"rolled back to {target.ImageReference}";
        log.AppendLine(rolledBack);
        LogRolledBack(logger, name, failure);
        return CommandOutcome.Failed($"{failure}; {rolledBack}", log.ToString());
    }

    /// <summary>
    /// Healthy when the container's healthcheck says so, or, without one, when it has kept running
    /// (no exit, no restart) for the configured time.
    /// </summary>
    internal async Task<(bool Ok, string? Reason)> HealthGateAsync(string containerId, CancellationToken ct)
    {
        var started = time.GetUtcNow();
        var first = await docker.Containers.InspectContainerAsync(containerId, ct);
        var restarts = first.RestartCount;
        var hasHealthcheck = first.State?.Health is { Status: not (null or "" or "none") };
        var limit = hasHealthcheck ? settings.HealthTimeout + HealthcheckAllowance(first.Config?.Healthcheck) : settings.HealthTimeout;
        while (true)
        {
            var c = await docker.Containers.InspectContainerAsync(containerId, ct);
            var s = c.State ?? new State();
            if (c.RestartCount > restarts || s.Restarting) return (false, $"container restarted (last exit code {s.ExitCode})");
            if (!s.Running) return (false, $"container exited with code {s.ExitCode}{(string.IsNullOrEmpty(s.Error) ? "" : ": " + s.Error)}");
            if (hasHealthcheck)
            {
                if (s.Health?.Status == "healthy") return (true, null);
                if (s.Health?.Status == "unhealthy") return (false, "container is unhealthy: " + s.Health.Log?.LastOrDefault()?.Output?.Trim());
            }
            var elapsed = time.GetUtcNow() - started;
            if (elapsed >= limit)
                return hasHealthcheck ? (false, $"container not healthy after {limit.TotalSeconds:0}s") : (true, null);
            await Task.Delay(TimeSpan.FromMilliseconds(250), time, ct);
        }
    }

    private static TimeSpan HealthcheckAllowance(HealthcheckConfig? hc)
    {
        if (hc is null) return TimeSpan.FromSeconds(60);
        var interval = hc.Interval is { Ticks: > 0 } i ? i : TimeSpan.FromSeconds(30);
        var retries = hc.Retries is > 0 ? hc.Retries.Value : 3;
        var allowance = (hc.StartPeriod ?? TimeSpan.Zero) + (interval * (retries + 1));
        return allowance > TimeSpan.FromMinutes(10) ? TimeSpan.FromMinutes(10) : allowance;
    }

    private async Task<string> LogsAsync(string containerId, CancellationToken ct)
    {
        try
        {
            using var stream = await docker.Containers.GetContainerLogsAsync(containerId,
                new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Tail = "100" }, ct);
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(ct);
            return (stdout + stderr).Trim();
        }
        catch (DockerApiException ex)
        {
            return $"(logs unavailable: {ex.Message})";
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Deploy of {Target} failed, rolled back: {Reason}")]
    private static partial void LogRolledBack(ILogger logger, string target, string reason);
}
