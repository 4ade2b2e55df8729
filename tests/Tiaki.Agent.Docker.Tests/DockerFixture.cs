using Docker.DotNet;
using Microsoft.Extensions.Logging.Abstractions;
using Tiaki.Agent.Core.Git;
using Tiaki.Agent.Core.Processes;
using Tiaki.Agent.Docker.Runtime;

namespace Tiaki.Agent.Docker.Tests;

/// <summary>
/// The real Docker engine and registry that scripts/test.sh starts. Images are made with
/// docker import from a busybox rootfs (nothing can be pulled from the internet here).
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    public string DockerHost { get; } = Require("DOCKER_HOST");
    public string Registry { get; } = Require("TIAKI_TEST_REGISTRY");
    public DockerClient Client { get; private set; } = null!;
    public string Work { get; } = Directory.CreateTempSubdirectory("tdk-").FullName;
    private readonly ProcessRunner runner = new();

    private static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v
            : throw new InvalidOperationException($"{name} is not set: run these tests through ./scripts/test.sh, which starts the Docker engine and registry");

    public async Task InitializeAsync()
    {
        Client = await DockerClientFactory.CreateAsync(DockerHost, default);
        var root = Path.Combine(Work, "rootfs");
        Directory.CreateDirectory(Path.Combine(root, "bin"));
        File.Copy("/bin/busybox", Path.Combine(root, "bin", "busybox"));
        foreach (var a in new[] { "sh", "sleep", "echo", "cat", "true" })
            File.CreateSymbolicLink(Path.Combine(root, "bin", a), "busybox");
    }

    public Task DisposeAsync()
    {
        Client.Dispose();
        try { Directory.Delete(Work, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return Task.CompletedTask;
    }

    public string NewRepository(string name) => $"{Registry}/docker-tests/{name}-{Guid.NewGuid():N}"[..(Registry.Length + 14 + name.Length + 13)];

    /// <summary>Builds an image whose /version holds <paramref name="version"/> and pushes it.</summary>
    public async Task PushAsync(string repository, string tag, string version, bool exitsAtOnce = false, bool markedBroken = false)
    {
        var root = Path.Combine(Work, "rootfs");
        if (markedBroken) await File.WriteAllTextAsync(Path.Combine(root, "broken"), "yes");
        else File.Delete(Path.Combine(root, "broken"));
        await File.WriteAllTextAsync(Path.Combine(root, "version"), version + Guid.NewGuid());
        var tar = Path.Combine(Work, $"{Guid.NewGuid():N}.tar");
        await Run("tar", "-C", root, "-cf", tar, ".");
        var cmd = exitsAtOnce
            ? "CMD [\"/bin/sh\",\"-c\",\"echo version " + version + " cannot start: missing config; exit 3\"]"
            : "CMD [\"/bin/sh\",\"-c\",\"echo version " + version + " up; while true; do sleep 1; done\"]";
        await Run("docker", "import", "-c", cmd, tar, $"{repository}:{tag}");
        await Run("docker", "push", $"{repository}:{tag}");
        File.Delete(tar);
    }

    public async Task<string> Run(string file, params string[] args) => await RunIn(null, file, args);

    public async Task<string> RunIn(string? dir, string file, params string[] args)
    {
        var r = await runner.RunAsync(new ProcessSpec(file, args)
        {
            WorkingDirectory = dir,
            Environment = new Dictionary<string, string?> { ["DOCKER_HOST"] = DockerHost },
        }, default);
        r.Succeeded.ShouldBeTrue(r.Describe(file + " " + string.Join(' ', args)));
        return r.StandardOutput.Trim();
    }

    internal DockerRuntime Runtime(bool gitCommit = true) => new(Client,
        new DockerRuntimeSettings(DockerHost, TimeSpan.FromSeconds(2), null, new GitSettings(gitCommit, "Tiaki Test", "tiaki@test.invalid")),
        runner, TimeProvider.System, NullLogger<DockerRuntime>.Instance);
}

[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerFixture>
{
    public const string Name = "docker";
}
