using Tiaki.Agent.Core.Processes;
using Tiaki.Agent.Docker.Runtime;

namespace Tiaki.Agent.Docker.Tests;

/// <summary>
/// Only compose v1 is installed here; most users have the v2 plugin. Stand-in executables record
/// how each would be called.
/// </summary>
public sealed class ComposeCliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("tdk-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private string StandIn(string name, bool answersComposeVersion)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, $"#!/bin/sh\necho \"$@\" >> '{path}.log'\n{(answersComposeVersion ? "exit 0" : "[ \"$1\" = compose ] && exit 1; exit 0")}\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    [Fact]
    public async Task UpServiceAsync_V2PluginPresent_UsesDockerCompose()
    {
        var docker = StandIn("docker", answersComposeVersion: true);
        var v1 = StandIn("docker-compose", answersComposeVersion: true);

        var r = await new ComposeCli(new ProcessRunner(), "unix:///x.sock", docker, v1).UpServiceAsync("proj", "/srv/app", ["/srv/app/a.yml", "/srv/app/b.yml"], "web", default);

        r.Succeeded.ShouldBeTrue();
        File.ReadAllLines(docker + ".log").ShouldBe(["compose version", "compose --project-name proj --project-directory /srv/app --file /srv/app/a.yml --file /srv/app/b.yml up --detach --no-deps web"]);
        File.Exists(v1 + ".log").ShouldBeFalse();
    }

    [Fact]
    public async Task UpServiceAsync_OnlyV1_UsesDockerComposeV1()
    {
        var docker = StandIn("docker", answersComposeVersion: false);
        var v1 = StandIn("docker-compose", answersComposeVersion: true);

        var r = await new ComposeCli(new ProcessRunner(), "unix:///x.sock", docker, v1).UpServiceAsync("proj", null, ["/srv/app/a.yml"], "web", default);

        r.Succeeded.ShouldBeTrue();
        File.ReadAllLines(v1 + ".log").ShouldBe(["version", "--project-name proj --file /srv/app/a.yml up --detach --no-deps web"]);
    }

    [Fact]
    public async Task UpServiceAsync_NeitherInstalled_ClearError()
    {
        var r = await new ComposeCli(new ProcessRunner(), "unix:///x.sock", Path.Combine(dir, "nope"), Path.Combine(dir, "nope2")).UpServiceAsync("p", null, ["/a.yml"], "web", default);

        r.Succeeded.ShouldBeFalse();
        r.Describe("compose up").ShouldContain("neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed");
    }
}
