using System.Diagnostics;

namespace Tiaki.Agent.Kubernetes.Tests.Packaging;

public sealed class ComposeAndDockerfileTests
{
    [Theory]
    [InlineData("server.Dockerfile", "mcr.microsoft.com/dotnet/aspnet:10.0")]
    [InlineData("agent-k8s.Dockerfile", "mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled")]
    [InlineData("agent-docker.Dockerfile", "mcr.microsoft.com/dotnet/runtime-deps:10.0-noble")]
    public void Dockerfile_MultiStage_FinalStageRunsAsNonRootOnRuntimeBase(string file, string finalBase)
    {
        var lines = File.ReadAllLines(Manifests.Deploy("docker", file)).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();

        var froms = lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        froms.Count.ShouldBeGreaterThanOrEqualTo(2);
        froms[0].ShouldStartWith("FROM mcr.microsoft.com/dotnet/sdk:10.0");
        froms[^1].Split(' ')[1].ShouldBe(finalBase);
        var final = lines.SkipWhile(l => l != froms[^1]).ToList();
        var user = final.Last(l => l.StartsWith("USER ", StringComparison.Ordinal))["USER ".Length..].Split(':')[0];
        int.Parse(user).ShouldBeGreaterThan(0, "numeric, so Kubernetes runAsNonRoot can verify it");
        final.ShouldContain(l => l.StartsWith("COPY --from=build", StringComparison.Ordinal));
        final.Last(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal)).ShouldContain("[\"");
        // Nothing of the SDK or the sources reaches the image users run.
        final.ShouldNotContain(l => l.StartsWith("COPY src", StringComparison.Ordinal) || l.StartsWith("COPY . ", StringComparison.Ordinal));
    }

    [Fact]
    public void ServerDockerfile_ListensOnPort3001()
    {
        var text = File.ReadAllText(Manifests.Deploy("docker", "server.Dockerfile"));

        text.ShouldContain("PORT=3001");
        text.ShouldContain("EXPOSE 3001");
    }

    [Fact]
    public void AgentDockerfiles_PublishNativeAot()
    {
        foreach (var file in new[] { "agent-k8s.Dockerfile", "agent-docker.Dockerfile" })
        {
            var text = File.ReadAllText(Manifests.Deploy("docker", file));
            text.ShouldContain("clang");
            text.ShouldContain("-r linux-x64");
        }

        // PublishAot is on in the projects themselves, so `dotnet publish -r` in the Dockerfile yields native binaries.
        File.ReadAllText(Path.Combine(Manifests.Deploy(), "..", "src", "Tiaki.Agent.Kubernetes", "Tiaki.Agent.Kubernetes.csproj")).ShouldContain("<PublishAot>true</PublishAot>");
    }

    private static async Task<(int Exit, string Out, string Err)> Compose(Dictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo("docker-compose") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Manifests.Deploy() };
        foreach (var a in new[] { "-f", Manifests.Deploy("docker-compose.yml") }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var key in new[] { "ADMIN_TOKEN", "POSTGRES_PASSWORD", "AGENT_API_KEY", "TIAKI_ENROLLMENT_TOKEN", "SCAN_INTERVAL", "DOCKER_HOST_FOR_AGENT" })
        {
            psi.Environment.Remove(key);
        }

        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }

        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("docker-compose is not installed: run ./scripts/test.sh, which installs it", e);
        }

        using (p)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
            return (p.ExitCode, await stdout, await stderr);
        }
    }

    [Fact]
    public async Task ComposeFile_ValidatedByDockerCompose_WiresServerPostgresAndAgent()
    {
        var (exit, stdout, stderr) = await Compose(new() { ["ADMIN_TOKEN"] = "admin-secret", ["POSTGRES_PASSWORD"] = "pg-secret", ["TIAKI_ENROLLMENT_TOKEN"] = "enroll" }, "config");

        exit.ShouldBe(0, stderr);
        var config = (Dictionary<string, object?>)HelmTemplate.Yaml(stdout)!;
        ((Dictionary<string, object?>)config["services"]!).Keys.ShouldBe(["agent", "postgres", "server", "socket-proxy"], ignoreOrder: true);
        // The proxy starts only when asked for (--profile socket-proxy).
        ((List<object?>)config.At("services", "socket-proxy", "profiles")!).ShouldBe(["socket-proxy"]);
        config.At("services", "server", "environment", "DATABASE_URL").ShouldBe("postgresql://tiaki:pg-secret@postgres:5432/tiaki");
        config.At("services", "server", "environment", "ADMIN_TOKEN").ShouldBe("admin-secret");
        config.At("services", "server", "environment", "PORT").ShouldBe("3001");
        config.At("services", "server", "depends_on", "postgres", "condition").ShouldBe("service_healthy");
        config.At("services", "agent", "environment", "CONTROL_URL").ShouldBe("http://server:3001");
        config.At("services", "agent", "environment", "TIAKI_ENROLLMENT_TOKEN").ShouldBe("enroll");
        config.At("services", "agent", "environment", "SCAN_INTERVAL").ShouldBe("5m");
        ((Dictionary<string, object?>)config.At("services", "agent", "environment")!).ShouldContainKey("AGENT_API_KEY");
        config.At("services", "agent", "environment", "DOCKER_HOST").ShouldBe("unix:///var/run/docker.sock");
    }

    [Fact]
    public async Task ComposeFile_SocketProxyProfile_AgentTalksToTheProxyOnly()
    {
        var (exit, stdout, stderr) = await Compose(
            new() { ["ADMIN_TOKEN"] = "a", ["POSTGRES_PASSWORD"] = "p", ["DOCKER_HOST_FOR_AGENT"] = "tcp://socket-proxy:2375" },
            "--profile", "socket-proxy", "config");

        exit.ShouldBe(0, stderr);
        var config = (Dictionary<string, object?>)HelmTemplate.Yaml(stdout)!;
        config.At("services", "agent", "environment", "DOCKER_HOST").ShouldBe("tcp://socket-proxy:2375");
        config.At("services", "socket-proxy", "environment", "EXEC").ShouldBe("0");
        ((List<object?>)config.At("services", "socket-proxy", "volumes")!).Cast<string>().ShouldContain(v => v.EndsWith(":ro"));
    }

    [Fact]
    public async Task ComposeFile_MissingAdminToken_RefusesNamingIt()
    {
        var (exit, _, stderr) = await Compose(new() { ["POSTGRES_PASSWORD"] = "p" }, "config");

        exit.ShouldNotBe(0);
        stderr.ShouldContain("set ADMIN_TOKEN");
    }
}
