using System.Net.Http.Headers;
using Docker.DotNet.Models;
using Tiaki.Contracts;

namespace Tiaki.Agent.Docker.Tests;

[Collection(DockerCollection.Name)]
public sealed class DockerRuntimeTests(DockerFixture docker)
{
    [Fact]
    public async Task ExecuteAsync_ComposeServiceNewTagThenBrokenTag_DeploysCommitsThenRollsBack()
    {
        var repo = docker.NewRepository("demo");
        await docker.PushAsync(repo, "1.0.0", "1.0.0");
        await docker.PushAsync(repo, "1.0.1", "1.0.1");
        await docker.PushAsync(repo, "1.0.2", "1.0.2", exitsAtOnce: true);
        var project = "tdk" + Guid.NewGuid().ToString("N")[..10];
        var dir = Directory.CreateTempSubdirectory("tdk-compose-").FullName;
        var original = $$"""
            # demo stack: the app is updated by Tiaki
            version: "2.4"
            x-defaults: &defaults
              network_mode: none
              init: true
            services:
              app:
                <<: *defaults
                image: "{{repo}}:1.0.0"   # keep quoted
                labels:
                  team: demo
              sidecar:
                <<: *defaults
                image: {{repo}}:1.0.0
            """.ReplaceLineEndings("\n") + "\n";
        var composeFile = Path.Combine(dir, "docker-compose.yml");
        await File.WriteAllTextAsync(composeFile, original);
        await docker.RunIn(dir, "git", "init", "-q", "-b", "main");
        await docker.RunIn(dir, "git", "-c", "user.name=u", "-c", "user.email=u@x", "add", ".");
        await docker.RunIn(dir, "git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-q", "-m", "init");
        await docker.RunIn(dir, "docker-compose", "-p", project, "up", "-d");
        try
        {
            var runtime = docker.Runtime();
            var app = (await runtime.ScanAsync(default)).Single(c => c.Report.ComposeProject == project && c.Report.ComposeService == "app");
            app.Report.ComposeFile.ShouldBe(composeFile); // v1 wrote it relative to the working dir
            app.Report.Image.ShouldBe(repo);
            app.Report.Tag.ShouldBe("1.0.0");
            app.Report.Digest.ShouldStartWith("sha256:");

            var deployed = await runtime.ExecuteAsync(new AgentCommand("c1", "u1", repo, "1.0.1", composeFile, "app"), app, default);

            deployed.Success.ShouldBeTrue(deployed.Error + "\n" + deployed.Log);
            (await ServiceImage(project, "app")).ShouldBe($"{repo}:1.0.1");
            (await ServiceImage(project, "sidecar")).ShouldBe($"{repo}:1.0.0");
            var afterDeploy = original.Replace($"\"{repo}:1.0.0\"", $"\"{repo}:1.0.1\"", StringComparison.Ordinal);
            (await File.ReadAllTextAsync(composeFile)).ShouldBe(afterDeploy);
            (await docker.RunIn(dir, "git", "log", "-1", "--format=%an|%s")).ShouldBe("Tiaki Test|tiaki: update app from 1.0.0 to 1.0.1");
            var head = await docker.RunIn(dir, "git", "rev-parse", "HEAD");

            app = (await runtime.ScanAsync(default)).Single(c => c.Report.ComposeProject == project && c.Report.ComposeService == "app");
            var broken = await runtime.ExecuteAsync(new AgentCommand("c2", "u2", repo, "1.0.2", composeFile, "app"), app, default);

            broken.Success.ShouldBeFalse();
            broken.Error!.ShouldContain("exited with code 3");
            broken.Error!.ShouldContain($"rolled back to {repo}:1.0.1");
            broken.Log.ShouldContain("cannot start: missing config");
            (await ServiceImage(project, "app")).ShouldBe($"{repo}:1.0.1");
            (await File.ReadAllTextAsync(composeFile)).ShouldBe(afterDeploy);
            (await docker.RunIn(dir, "git", "rev-parse", "HEAD")).ShouldBe(head);

            app = (await runtime.ScanAsync(default)).Single(c => c.Report.ComposeProject == project && c.Report.ComposeService == "app");
            var rollback = await runtime.ExecuteAsync(new AgentCommand("c3", null, repo, null, composeFile, "app") { Type = CommandTypes.Rollback, PreviousTag = "1.0.0" }, app, default);

            rollback.Success.ShouldBeTrue(rollback.Error + "\n" + rollback.Log);
            (await ServiceImage(project, "app")).ShouldBe($"{repo}:1.0.0");
            (await File.ReadAllTextAsync(composeFile)).ShouldBe(original);
            (await docker.RunIn(dir, "git", "log", "-1", "--format=%s")).ShouldBe("tiaki: roll back app from 1.0.1 to 1.0.0");
        }
        finally
        {
            await docker.RunIn(dir, "docker-compose", "-p", project, "down", "-t", "1");
        }
    }

    [Fact]
    public async Task ExecuteAsync_PlainContainer_RecreatedWithSameSettingsAndRolledBackWhenBroken()
    {
        var repo = docker.NewRepository("plain");
        await docker.PushAsync(repo, "1.0.0", "1.0.0");
        await docker.PushAsync(repo, "1.0.1", "1.0.1");
        await docker.PushAsync(repo, "1.0.2", "1.0.2", exitsAtOnce: true);
        var name = "tdk-plain-" + Guid.NewGuid().ToString("N")[..8];
        var volume = "tdk-vol-" + Guid.NewGuid().ToString("N")[..8];
        await docker.Run("docker", "run", "-d", "--name", name, "--network", "none", "--init", "-e", "GREETING=kia ora",
            "-l", "owner=ops", "--restart", "unless-stopped", "-v", $"{volume}:/data", "--tmpfs", "/scratch", $"{repo}:1.0.0");
        try
        {
            var runtime = docker.Runtime();
            var target = (await runtime.ScanAsync(default)).Single(c => c.Report.Name == name);
            target.Report.ComposeFile.ShouldBeNull();

            var outcome = await runtime.ExecuteAsync(new AgentCommand("p1", null, repo, "1.0.1", null, null) { ContainerId = target.Report.ContainerId }, target, default);

            outcome.Success.ShouldBeTrue(outcome.Error + "\n" + outcome.Log);
            var c = await docker.Client.Containers.InspectContainerAsync(name);
            c.Config!.Image.ShouldBe($"{repo}:1.0.1");
            c.State!.Running.ShouldBeTrue();
            c.Config.Env!.ShouldContain("GREETING=kia ora");
            c.Config.Labels!["owner"].ShouldBe("ops");
            c.HostConfig!.RestartPolicy!.Name.ToString().ShouldBe("UnlessStopped");
            c.HostConfig.NetworkMode.ShouldBe("none");
            c.HostConfig.Init.ShouldBe(true);
            c.HostConfig.Binds!.ShouldContain($"{volume}:/data");
            c.HostConfig.Tmpfs!.Keys.ShouldContain("/scratch");
            string.Join(' ', c.Config.Cmd!).ShouldContain("version 1.0.1 up"); // the new image's own command, not the old one's
            (await Names(name)).ShouldBe([name]); // the old container is gone

            target = (await runtime.ScanAsync(default)).Single(x => x.Report.Name == name);
            var broken = await runtime.ExecuteAsync(new AgentCommand("p2", null, repo, "1.0.2", null, null) { ContainerId = target.Report.ContainerId }, target, default);

            broken.Success.ShouldBeFalse();
            broken.Error!.ShouldContain("rolled back");
            var back = await docker.Client.Containers.InspectContainerAsync(name);
            back.ID.ShouldBe(target.Report.ContainerId);
            back.Config!.Image.ShouldBe($"{repo}:1.0.1");
            back.State!.Running.ShouldBeTrue();
            (await Names(name)).ShouldBe([name]);
        }
        finally
        {
            foreach (var n in await Names(name)) await docker.Run("docker", "rm", "-f", n);
            await docker.Run("docker", "volume", "rm", "-f", volume);
        }
    }

    [Fact]
    public async Task ExecuteAsync_ContainerWithHealthcheck_WaitsForHealthyAndRollsBackWhenUnhealthy()
    {
        var repo = docker.NewRepository("health");
        await docker.PushAsync(repo, "1.0.0", "1.0.0");
        await docker.PushAsync(repo, "1.0.1", "1.0.1");
        await docker.PushAsync(repo, "1.0.2", "1.0.2", markedBroken: true);
        var name = "tdk-health-" + Guid.NewGuid().ToString("N")[..8];
        await docker.Run("docker", "run", "-d", "--name", name, "--network", "none", "--init",
            "--health-cmd", "test ! -f /broken", "--health-interval", "1s", "--health-retries", "1", $"{repo}:1.0.0");
        try
        {
            var runtime = docker.Runtime();
            var target = (await runtime.ScanAsync(default)).Single(c => c.Report.Name == name);
            var healthy = await runtime.ExecuteAsync(new AgentCommand("h1", null, repo, "1.0.1", null, null) { ContainerId = target.Report.ContainerId }, target, default);

            healthy.Success.ShouldBeTrue(healthy.Error + "\n" + healthy.Log);
            var running = await docker.Client.Containers.InspectContainerAsync(name);
            running.State!.Health!.Status.ShouldBe("healthy");

            target = (await runtime.ScanAsync(default)).Single(c => c.Report.Name == name);
            var unhealthy = await runtime.ExecuteAsync(new AgentCommand("h2", null, repo, "1.0.2", null, null) { ContainerId = target.Report.ContainerId }, target, default);

            unhealthy.Success.ShouldBeFalse();
            unhealthy.Error!.ShouldContain("unhealthy");
            (await docker.Client.Containers.InspectContainerAsync(name)).Config!.Image.ShouldBe($"{repo}:1.0.1");
        }
        finally
        {
            foreach (var n in await Names(name)) await docker.Run("docker", "rm", "-f", n);
        }
    }

    [Fact]
    public async Task ScanAsync_LatestRepushed_ReportedDigestIsTheRunningOneAndDiffersFromTheRegistrys()
    {
        var repo = docker.NewRepository("latest");
        await docker.PushAsync(repo, "latest", "a");
        var name = "tdk-latest-" + Guid.NewGuid().ToString("N")[..8];
        var skipped = name + "-off";
        await docker.Run("docker", "run", "-d", "--name", name, "--network", "none", "--init", repo);
        await docker.Run("docker", "run", "-d", "--name", skipped, "--network", "none", "--init", "-l", "tiaki.enable=false", repo);
        try
        {
            var runtime = docker.Runtime();
            var scanned = await runtime.ScanAsync(default);
            scanned.ShouldNotContain(c => c.Report.Name == skipped);
            var before = scanned.Single(c => c.Report.Name == name);
            before.Report.Tag.ShouldBe("latest");
            before.Report.Digest.ShouldBe(await RegistryDigest(repo, "latest"));

            await docker.PushAsync(repo, "latest", "b");

            var after = (await runtime.ScanAsync(default)).Single(c => c.Report.Name == name);
            after.Report.Digest.ShouldBe(before.Report.Digest);
            (await RegistryDigest(repo, "latest")).ShouldNotBe(after.Report.Digest);
        }
        finally
        {
            await docker.Run("docker", "rm", "-f", name, skipped);
        }
    }

    private async Task<string> ServiceImage(string project, string service)
    {
        var list = await docker.Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = false,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"com.docker.compose.project={project}"] = true, [$"com.docker.compose.service={service}"] = true },
            },
        });
        return list.ShouldHaveSingleItem().Image;
    }

    private async Task<List<string>> Names(string prefix)
    {
        var all = await docker.Client.Containers.ListContainersAsync(new ContainersListParameters { All = true });
        return all.SelectMany(c => c.Names ?? []).Select(n => n.TrimStart('/')).Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
    }

    private async Task<string> RegistryDigest(string repo, string tag)
    {
        var slash = repo.IndexOf('/', StringComparison.Ordinal);
        using var http = new HttpClient();
        using var req = new HttpRequestMessage(HttpMethod.Head, $"http://{repo[..slash]}/v2/{repo[(slash + 1)..]}/manifests/{tag}");
        foreach (var t in new[] { "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json",
                     "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json" })
            req.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(t));
        using var res = await http.SendAsync(req);
        res.EnsureSuccessStatusCode();
        return res.Headers.GetValues("Docker-Content-Digest").Single();
    }
}
