using Microsoft.Extensions.Logging;
using Tiaki.Agent.Core.Configuration;
using Tiaki.Agent.Core.Git;
using Tiaki.Agent.Core.Loop;
using Tiaki.Agent.Core.Processes;
using Tiaki.Agent.Core.Runtime;
using Tiaki.Agent.Docker.Runtime;

namespace Tiaki.Agent.Docker;

/// <summary>Composition root of the Docker agent's <c>run</c> mode: how its runtime is made.</summary>
internal static class DockerAgent
{
    public static Task<int> RunAsync(string[] args, TextWriter stderr, CancellationToken ct) =>
        AgentHost.RunAsync("tiaki-agent-docker", args, [], CreateRuntimeAsync, stderr, ct);

    private static async Task<IContainerRuntime?> CreateRuntimeAsync(AgentOptions options, ILoggerFactory loggers, IProcessRunner processes, TextWriter stderr, CancellationToken ct)
    {
        global::Docker.DotNet.DockerClient docker;
        try
        {
            docker = await DockerClientFactory.CreateAsync(options.DockerHost, ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or System.Net.Sockets.SocketException or global::Docker.DotNet.DockerApiException)
        {
            await stderr.WriteLineAsync($"tiaki-agent-docker: cannot reach the Docker engine at DOCKER_HOST={options.DockerHost}: {ex.Message}");
            return null;
        }
        // The client lives as long as the agent process.
        return new DockerRuntime(docker,
            new DockerRuntimeSettings(options.DockerHost, options.HealthTimeout, options.RegistryAuthFile,
                new GitSettings(options.GitCommit, options.GitAuthorName, options.GitAuthorEmail)),
            processes, TimeProvider.System, loggers.CreateLogger<DockerRuntime>());
    }
}
