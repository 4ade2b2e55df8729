using Microsoft.Extensions.Logging;
using Tiaki.Agent.Core.Configuration;
using Tiaki.Agent.Core.Git;
using Tiaki.Agent.Core.Loop;
using Tiaki.Agent.Core.Processes;
using Tiaki.Agent.Core.Reporting;
using Tiaki.Agent.Core.Trivy;
using Tiaki.Agent.Core.Updates;
using Tiaki.Agent.Docker.Runtime;

namespace Tiaki.Agent.Docker;

/// <summary>Composition root of the Docker agent's <c>run</c> mode.</summary>
internal static class DockerAgent
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (args is not ([] or ["run"]))
        {
            await stderr.WriteLineAsync($"unknown command '{string.Join(' ', args)}'; usage: tiaki-agent-docker [run]");
            return 2;
        }
        var (options, errors) = AgentOptions.FromEnvironment(Environment.GetEnvironmentVariables(), AgentState.HasCredentials);
        if (options is null)
        {
            await stderr.WriteLineAsync("tiaki-agent-docker: invalid configuration:");
            foreach (var e in errors) await stderr.WriteLineAsync("  " + e);
            return 2;
        }

        using var loggerFactory = LoggerFactory.Create(b => b
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ssZ "; o.UseUtcTimestamp = true; })
            .SetMinimumLevel(LogLevel.Information));
        var logger = loggerFactory.CreateLogger("tiaki-agent-docker");

        global::Docker.DotNet.DockerClient docker;
        try
        {
            docker = await DockerClientFactory.CreateAsync(options.DockerHost, ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or System.Net.Sockets.SocketException or global::Docker.DotNet.DockerApiException)
        {
            await stderr.WriteLineAsync($"tiaki-agent-docker: cannot reach the Docker engine at DOCKER_HOST={options.DockerHost}: {ex.Message}");
            return 1;
        }

        using (docker)
        using (var checker = new UpdateChecker(options.Registry, loggerFactory.CreateLogger<UpdateChecker>()))
        using (var http = new HttpClient { BaseAddress = new Uri(options.ControlUrl.ToString().TrimEnd('/') + "/"), Timeout = Timeout.InfiniteTimeSpan })
        {
            var processes = new ProcessRunner();
            var runtime = new DockerRuntime(docker,
                new DockerRuntimeSettings(options.DockerHost, options.HealthTimeout, options.RegistryAuthFile,
                    new GitSettings(options.GitCommit, options.GitAuthorName, options.GitAuthorEmail)),
                processes, TimeProvider.System, loggerFactory.CreateLogger<DockerRuntime>());
            var loop = new AgentLoop(options, new ControlPlaneClient(http), runtime, checker,
                new AgentState(options.StateDirectory), TimeProvider.System, loggerFactory.CreateLogger<AgentLoop>(),
                new TrivyScanner(processes, new TrivySettings(options.TrivyEnabled, options.TrivyPath)));
            try
            {
                await loop.RunAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // stopping
            }
            catch (ControlPlaneRejectedException ex)
            {
                logger.LogError("Registration refused by the control plane (check TIAKI_ENROLLMENT_TOKEN): {Reason}", ex.Message);
                return 1;
            }
        }
        return 0;
    }
}
