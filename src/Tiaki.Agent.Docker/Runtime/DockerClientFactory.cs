using Docker.DotNet;

namespace Tiaki.Agent.Docker.Runtime;

internal static class DockerClientFactory
{
    // The newest Engine API this agent was written against; older engines get their own version.
    private static readonly Version Newest = new(1, 47);

    /// <summary>Connects to DOCKER_HOST and negotiates the API version (the engine's, capped at the one this agent knows).</summary>
    public static async Task<DockerClient> CreateAsync(string dockerHost, CancellationToken ct)
    {
        var endpoint = new Uri(dockerHost);
        using (var probe = new DockerClientBuilder().WithEndpoint(endpoint).WithApiVersion(new Version(1, 24)).Build())
        {
            var version = await probe.System.GetVersionAsync(ct);
            if (Version.TryParse(version.APIVersion, out var server))
                return new DockerClientBuilder().WithEndpoint(endpoint).WithApiVersion(server < Newest ? server : Newest).Build();
        }
        return new DockerClientBuilder().WithEndpoint(endpoint).Build();
    }
}
