using Microsoft.Extensions.Logging;
using Tiaki.Agent.Core.Compose;
using Tiaki.Agent.Core.Configuration;
using Tiaki.Agent.Core.Reporting;
using Tiaki.Agent.Core.Runtime;
using Tiaki.Agent.Core.Trivy;
using Tiaki.Agent.Core.Updates;
using Tiaki.Contracts;

namespace Tiaki.Agent.Core.Loop;

/// <summary>
/// register → scan → check → submit → long-poll → execute → heartbeat → wait. The control plane
/// going away never stops the agent: it backs off with jitter, logs once per outage, keeps
/// undelivered results on disk and sends them when the control plane is back.
/// </summary>
public sealed partial class AgentLoop(
    AgentOptions options,
    IControlPlane control,
    IContainerRuntime runtime,
    IUpdateChecker checker,
    AgentState state,
    TimeProvider time,
    ILogger<AgentLoop> logger,
    TrivyScanner? trivy = null,
    Func<double>? random = null)
{
    private static readonly TimeSpan MaxPoll = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(30);
    private readonly Func<double> random = random ?? Random.Shared.NextDouble;
    private readonly Dictionary<string, CommandResult> executed = new(StringComparer.Ordinal);
    private readonly Queue<string> executedOrder = new();
    private readonly Dictionary<string, VulnerabilityReport> vulnerabilityCache = new(StringComparer.Ordinal);
    private IReadOnlyList<ScannedContainer> reported = [];
    private SubmitReportRequest? unsent;
    private bool scanRequested = true;
    private DateTimeOffset nextScan;
    private DateTimeOffset lastHeartbeat = DateTimeOffset.MinValue;
    private int failures;
    private string? outage;

    /// <summary>Containers in the last report the control plane accepted or was sent: the only ones commands may touch.</summary>
    public IReadOnlyList<ScannedContainer> Reported => reported;

    public async Task RunAsync(CancellationToken ct)
    {
        await EnsureRegisteredAsync(ct);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(ct);
            }
            catch (ControlPlaneUnavailableException ex)
            {
                await BackOffAsync(ex.Message, ct);
            }
            catch (ControlPlaneRejectedException ex)
            {
                // The key was revoked, the agent deleted, or a proxy in between refuses: keep running
                // so a fixed key (restart) or a restored agent takes over, but do not hammer the server.
                await BackOffAsync(ex.Message, ct);
            }
        }
    }

    /// <summary>One pass of the loop; exposed so tests can step it.</summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        if (scanRequested || time.GetUtcNow() >= nextScan)
        {
            scanRequested = false;
            nextScan = time.GetUtcNow() + options.ScanInterval;
            try
            {
                unsent = await ScanAndCheckAsync(ct);
            }
            // The engine or API server restarting, or RBAC not yet granted: keep the last good scan,
            // keep polling commands, and try again at the next interval instead of exiting.
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                LogScanFailed(logger, ex.Message);
            }
        }
        if (unsent is not null)
        {
            try
            {
                await control.SubmitReportAsync(unsent, ct);
                LogSubmitted(logger, unsent.Containers.Count, unsent.Updates?.Count ?? 0);
            }
            catch (ControlPlaneRejectedException ex) when (ex.Status is not (System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden))
            {
                // Sending the same report again would be refused again: the next scan makes a new one.
                LogReportRejected(logger, ex.Message);
            }
            unsent = null;
        }
        await FlushOutboxAsync(ct);
        EndOutage();
        if (time.GetUtcNow() - lastHeartbeat >= HeartbeatEvery)
        {
            lastHeartbeat = time.GetUtcNow();
            try
            {
                await control.HeartbeatAsync(ct);
            }
            catch (ControlPlaneRejectedException ex) when (ex.Status is not (System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden))
            {
                LogHeartbeatRejected(logger, ex.Message); // commands still flow; the server only misses a last-seen time
            }
        }

        var untilScan = nextScan - time.GetUtcNow();
        var wait = untilScan < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : untilScan > MaxPoll ? MaxPoll : untilScan;
        var commands = await control.GetCommandsAsync(wait, ct);
        foreach (var command in commands)
        {
            var result = await ExecuteAsync(command, ct);
            await DeliverAsync(result, ct);
        }
    }

    private async Task EnsureRegisteredAsync(CancellationToken ct)
    {
        if (options.ApiKey is not null)
        {
            control.UseApiKey(options.ApiKey);
            return;
        }
        var stored = state.LoadCredentials();
        if (stored is not null)
        {
            control.UseApiKey(stored.ApiKey);
            return;
        }
        while (true)
        {
            try
            {
                var response = await control.RegisterAsync(new RegisterAgentRequest(options.AgentName, runtime.AgentType), options.EnrollmentToken!, ct);
                state.SaveCredentials(new StoredCredentials(response.AgentId, response.ApiKey));
                control.UseApiKey(response.ApiKey);
                EndOutage();
                LogRegistered(logger, options.AgentName, response.AgentId);
                return;
            }
            catch (ControlPlaneUnavailableException ex)
            {
                await BackOffAsync(ex.Message, ct);
            }
        }
    }

    private async Task<SubmitReportRequest> ScanAndCheckAsync(CancellationToken ct)
    {
        var scanned = await runtime.ScanAsync(ct);
        var checks = await checker.CheckAsync(scanned, ct);
        var containers = new List<ContainerReport>(checks.Count);
        var updates = new List<UpdateReport>();
        foreach (var check in checks)
        {
            containers.Add(check.Error is null ? check.Container.Report : check.Container.Report with { CheckError = check.Error });
            if (check.Update is null) continue;
            updates.Add(await WithVulnerabilitiesAsync(check.Container, check.Update, ct));
        }
        reported = scanned;
        LogScanned(logger, scanned.Count, updates.Count);
        return new SubmitReportRequest(containers, updates);
    }

    private async Task<UpdateReport> WithVulnerabilitiesAsync(ScannedContainer container, UpdateReport update, CancellationToken ct)
    {
        if (trivy is not { Enabled: true }) return update;
        var candidate = $"{container.Report.Image}:{update.LatestTag}";
        var key = $"{candidate}@{update.LatestDigest}|{container.Report.Digest}";
        if (!vulnerabilityCache.TryGetValue(key, out var report))
        {
            var (r, error) = await trivy.CompareAsync(candidate, container.ImageReference, ct);
            if (r is null)
            {
                LogTrivyFailed(logger, candidate, error ?? "unknown");
                return update;
            }
            vulnerabilityCache[key] = report = r;
        }
        return update with { Vulnerabilities = report };
    }

    internal async Task<CommandResult> ExecuteAsync(AgentCommand command, CancellationToken ct)
    {
        if (executed.TryGetValue(command.CommandId, out var earlier)) return earlier;
        var result = await ExecuteNewAsync(command, ct);
        executed[command.CommandId] = result;
        executedOrder.Enqueue(command.CommandId);
        while (executedOrder.Count > 1000) executed.Remove(executedOrder.Dequeue());
        return result;
    }

    private async Task<CommandResult> ExecuteNewAsync(AgentCommand command, CancellationToken ct)
    {
        LogCommand(logger, command.CommandId, command.Type);
        if (command.Type == CommandTypes.Scan)
        {
            scanRequested = true;
            return new CommandResult(command.CommandId, true, null, "scan started");
        }
        if (command.Type is not (CommandTypes.Deploy or CommandTypes.Rollback))
            return Refuse(command, $"unknown command type '{command.Type}'");

        var (target, refusal) = ResolveTarget(command);
        if (target is null) return Refuse(command, refusal!);
        var tag = command.Type == CommandTypes.Rollback ? command.PreviousTag : command.LatestTag;
        if (!ImageReference.IsValidTag(tag))
            return Refuse(command, command.Type == CommandTypes.Rollback ? "rollback needs previousTag, a valid image tag" : $"'{command.LatestTag}' is not a valid image tag");

        CommandOutcome outcome;
        try
        {
            outcome = await runtime.ExecuteAsync(command, target, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            outcome = CommandOutcome.Failed($"{command.Type} failed unexpectedly: {ex.Message}", "");
        }
        scanRequested = true; // the running set changed: report it at once
        LogCommandDone(logger, command.CommandId, outcome.Success, outcome.Error ?? "");
        return new CommandResult(command.CommandId, outcome.Success, outcome.Error, outcome.Log);
    }

    /// <summary>
    /// A command may only name a container, compose file and service this agent reported: a
    /// compromised control plane must not make the agent write arbitrary files.
    /// </summary>
    private (ScannedContainer? Target, string? Refusal) ResolveTarget(AgentCommand command)
    {
        ScannedContainer? target = null;
        if (command.ContainerId is not null)
        {
            target = reported.FirstOrDefault(c => c.Report.ContainerId == command.ContainerId);
            if (target is null) return (null, $"container {command.ContainerId} was not reported by this agent");
        }
        else if (command.ComposeFile is { Length: > 0 } && command.ComposeService is { Length: > 0 })
        {
            target = reported.FirstOrDefault(c => c.Report.ComposeFile == command.ComposeFile && c.Report.ComposeService == command.ComposeService);
            if (target is null) return (null, $"compose service {command.ComposeService} in {command.ComposeFile} was not reported by this agent");
        }
        else
        {
            return (null, "the command names neither a container nor a compose file and service");
        }
        if (command.ComposeFile is { Length: > 0 } && command.ComposeFile != target.Report.ComposeFile)
            return (null, $"compose file {command.ComposeFile} is not the one container {target.Report.Name} was reported with");
        if (command.ComposeService is { Length: > 0 } && command.ComposeService != target.Report.ComposeService)
            return (null, $"compose service {command.ComposeService} is not the one container {target.Report.Name} was reported with");
        if (command.Image is { Length: > 0 } && command.Image != target.Report.Image)
            return (null, $"image {command.Image} is not the image container {target.Report.Name} runs ({target.Report.Image})");
        return (target, null);
    }

    private CommandResult Refuse(AgentCommand command, string reason)
    {
        LogRefused(logger, command.CommandId, reason);
        return new CommandResult(command.CommandId, false, "refused: " + reason, null);
    }

    private async Task DeliverAsync(CommandResult result, CancellationToken ct)
    {
        try
        {
            await control.PostResultAsync(result, ct);
        }
        catch (ControlPlaneUnavailableException)
        {
            state.Enqueue(result); // the outcome of a deploy must not be lost with the connection
            throw;
        }
        catch (ControlPlaneRejectedException ex) when (ex.Status is not (System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden))
        {
            LogDropped(logger, result.CommandId, ex.Message); // e.g. the command was cancelled meanwhile
        }
    }

    private async Task FlushOutboxAsync(CancellationToken ct)
    {
        foreach (var pending in state.Pending())
        {
            try
            {
                await control.PostResultAsync(pending, ct);
                LogDelivered(logger, pending.CommandId);
            }
            catch (ControlPlaneRejectedException ex)
            {
                LogDropped(logger, pending.CommandId, ex.Message); // the server will never take it
            }
            state.Remove(pending.CommandId);
        }
    }

    private async Task BackOffAsync(string reason, CancellationToken ct)
    {
        if (outage is null)
        {
            outage = reason;
            LogOutage(logger, reason);
        }
        failures++;
        var ceiling = Math.Min(60, Math.Pow(2, Math.Min(failures, 6)));
        var delay = TimeSpan.FromSeconds(ceiling * (0.5 + (random() * 0.5)));
        await Task.Delay(delay, time, ct);
    }

    private void EndOutage()
    {
        if (outage is not null) LogRecovered(logger, failures);
        outage = null;
        failures = 0;
    }

    [LoggerMessage(1, LogLevel.Information, "Registered as {AgentName} ({AgentId}); API key stored in AGENT_STATE_DIR")]
    private static partial void LogRegistered(ILogger logger, string agentName, string agentId);

    [LoggerMessage(2, LogLevel.Information, "Scanned {Containers} containers, {Updates} updates available")]
    private static partial void LogScanned(ILogger logger, int containers, int updates);

    [LoggerMessage(3, LogLevel.Debug, "Report submitted: {Containers} containers, {Updates} updates")]
    private static partial void LogSubmitted(ILogger logger, int containers, int updates);

    [LoggerMessage(4, LogLevel.Information, "Command {CommandId}: {Type}")]
    private static partial void LogCommand(ILogger logger, string commandId, string type);

    [LoggerMessage(5, LogLevel.Information, "Command {CommandId} done: success={Success} {Error}")]
    private static partial void LogCommandDone(ILogger logger, string commandId, bool success, string error);

    [LoggerMessage(6, LogLevel.Warning, "Command {CommandId} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string commandId, string reason);

    [LoggerMessage(7, LogLevel.Warning, "Control plane unreachable, retrying with backoff until it answers: {Reason}")]
    private static partial void LogOutage(ILogger logger, string reason);

    [LoggerMessage(8, LogLevel.Information, "Control plane reachable again after {Attempts} failed attempts")]
    private static partial void LogRecovered(ILogger logger, int attempts);

    [LoggerMessage(9, LogLevel.Information, "Delivered the kept result of command {CommandId}")]
    private static partial void LogDelivered(ILogger logger, string commandId);

    [LoggerMessage(10, LogLevel.Warning, "Result of command {CommandId} rejected by the control plane, dropped: {Reason}")]
    private static partial void LogDropped(ILogger logger, string commandId, string reason);

    [LoggerMessage(12, LogLevel.Warning, "Report rejected by the control plane: {Reason}")]
    private static partial void LogReportRejected(ILogger logger, string reason);

    [LoggerMessage(13, LogLevel.Warning, "Heartbeat rejected by the control plane: {Reason}")]
    private static partial void LogHeartbeatRejected(ILogger logger, string reason);

    [LoggerMessage(14, LogLevel.Warning, "Scan failed, retrying at the next interval: {Reason}")]
    private static partial void LogScanFailed(ILogger logger, string reason);

    [LoggerMessage(11, LogLevel.Warning, "Trivy could not scan {Image}: {Error}")]
    private static partial void LogTrivyFailed(ILogger logger, string image, string error);
}
