using Microsoft.Extensions.Logging;
using Tiaki.Agent.Core.Configuration;
using Tiaki.Agent.Core.Processes;
using Tiaki.Agent.Core.Reporting;
using Tiaki.Agent.Core.Runtime;
using Tiaki.Agent.Core.Trivy;
using Tiaki.Agent.Core.Updates;

namespace Tiaki.Agent.Core.Loop;

/// <summary>Creates the runtime an agent drives, or returns null after writing why it could not.</summary>
public delegate Task<IContainerRuntime?> RuntimeFactory(AgentOptions options, ILoggerFactory loggers, IProcessRunner processes, TextWriter stderr, CancellationToken cancellationToken);

/// <summary>
/// The <c>run</c> mode both agents share: settings → logging → runtime → update checker → loop.
/// Each agent's Program only says how its runtime is made.
/// </summary>
public static class AgentHost
{
    /// <param name="program">Binary name, used in messages.</param>
    /// <param name="runtimeErrors">Bad settings of the agent's own runtime, listed with the shared ones.</param>
    public static async Task<int> RunAsync(string program, IReadOnlyList<string> args, IReadOnlyList<string> runtimeErrors,
        RuntimeFactory createRuntime, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (args is not ([] or ["run"]))
        {
            await stderr.WriteLineAsync($"{program}: unknown command '{string.Join(' ', args)}'; usage: {program} [run] | check IMAGE[:TAG]...");
            return 2;
        }
        var (options, errors) = AgentOptions.FromEnvironment(Environment.GetEnvironmentVariables(), AgentState.HasCredentials);
        if (options is null || runtimeErrors.Count > 0)
        {
            await stderr.WriteLineAsync($"{program}: invalid configuration:");
            foreach (var e in errors.Concat(runtimeErrors)) await stderr.WriteLineAsync("  " + e);
            return 2;
        }

        using var loggerFactory = LoggerFactory.Create(b => b
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ssZ "; o.UseUtcTimestamp = true; })
            .SetMinimumLevel(LogLevel.Information));
        var logger = loggerFactory.CreateLogger(program);
        var processes = new ProcessRunner();

        var runtime = await createRuntime(options, loggerFactory, processes, stderr, cancellationToken);
        if (runtime is null)
            return 1;

        try
        {
            using var checker = new UpdateChecker(options.Registry, loggerFactory.CreateLogger<UpdateChecker>());
            using var http = new HttpClient { BaseAddress = new Uri(options.ControlUrl.ToString().TrimEnd('/') + "/"), Timeout = Timeout.InfiniteTimeSpan };
            await CreateLoop(options, runtime, checker, http, processes, loggerFactory, TimeProvider.System).RunAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping
        }
        catch (ControlPlaneRejectedException ex)
        {
            logger.LogError("Registration refused by the control plane (check TIAKI_ENROLLMENT_TOKEN): {Reason}", ex.Message);
            return 1;
        }
        finally
        {
            (runtime as IDisposable)?.Dispose();
        }
        return 0;
    }

    /// <summary>
    /// The loop <see cref="RunAsync"/> runs, from its parts. End-to-end tests build the agent through
    /// this so they exercise the same composition, with their own control-plane client and clock.
    /// </summary>
    public static AgentLoop CreateLoop(AgentOptions options, IContainerRuntime runtime, IUpdateChecker checker, HttpClient controlPlane,
        IProcessRunner processes, ILoggerFactory loggers, TimeProvider time) =>
        new(options, new ControlPlaneClient(controlPlane), runtime, checker,
            new AgentState(options.StateDirectory), time, loggers.CreateLogger<AgentLoop>(),
            new TrivyScanner(processes, new TrivySettings(options.TrivyEnabled, options.TrivyPath)));
}
