using System.Diagnostics;
using System.Text.Json;
using Tiaki.Agent.Core.Check;
using Tiaki.Testing.Registry;

namespace Tiaki.Agent.Core.Tests.Check;

public sealed class CheckCommandTests : IDisposable
{
    private readonly string _registry = TestServices.SharedRegistry;
    private readonly ImagePusher _pusher;

    public CheckCommandTests() => _pusher = new ImagePusher(_registry);

    public void Dispose() => _pusher.Dispose();

    private static string? NoEnvironment(string name) => name == "REGISTRY_AUTH_FILE" ? "/nonexistent/config.json" : null;

    private static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CheckCommand.RunAsync(args, stdout, stderr, NoEnvironment, CancellationToken.None);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task RunAsync_VersionTagWithNewerMinor_PrintsTableWithNewestTag()
    {
        var repo = TestServices.UniqueRepository("cli");
        await _pusher.PushImageAsync(repo, "1.4.0");
        var latest = await _pusher.PushImageAsync(repo, "1.5.2", new ImageSpec { Labels = new() { ["org.opencontainers.image.source"] = "https://github.com/acme/cli" } });
        await _pusher.PushImageAsync(repo, "2.0.0");

        var (exit, output, _) = await RunAsync($"{_registry}/{repo}:1.4.0", "--max-bump", "minor");

        exit.ShouldBe(0);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines[0].ShouldStartWith("IMAGE");
        lines[1].ShouldContain("1.5.2");
        lines[1].ShouldContain("minor");
        lines[1].ShouldContain(latest[..19]);
        lines[1].ShouldContain("https://github.com/acme/cli/releases");
        lines[^1].ShouldBe("1 checked, 1 update, 0 errors");
    }

    [Fact]
    public async Task RunAsync_JsonWithCurrentDigest_ReportsEachImage()
    {
        var repo = TestServices.UniqueRepository("clijson");
        var running = await _pusher.PushImageAsync(repo, "latest");
        await _pusher.PushImageAsync(repo, "v1.0.0");
        await _pusher.PushImageAsync(repo, "v1.0.1");

        var (exit, output, _) = await RunAsync($"{_registry}/{repo}", "--json", $"{_registry}/{repo}:v1.0.0", "--exclude", @"\.1$",
            "--current-digest", running, "--current-digest", running);

        exit.ShouldBe(0);
        using var doc = JsonDocument.Parse(output);
        var images = doc.RootElement.GetProperty("images");
        images[0].GetProperty("currentTag").GetString().ShouldBe("latest");
        images[0].GetProperty("update").GetBoolean().ShouldBeFalse();
        images[0].GetProperty("latestDigest").GetString().ShouldBe(running);
        images[1].GetProperty("latestTag").GetString().ShouldBe("v1.0.0");
        images[1].GetProperty("update").GetBoolean().ShouldBeTrue(); // same tag, other digest than "running"
        images[1].GetProperty("bump").GetString().ShouldBe("digest");
        doc.RootElement.GetProperty("errors").GetInt32().ShouldBe(0);
    }

    [Fact]
    public async Task RunAsync_UnknownImage_ExitsOneWithTheErrorInTheRow()
    {
        var (exit, output, _) = await RunAsync($"{_registry}/{TestServices.UniqueRepository("nope")}:1.0");

        exit.ShouldBe(1);
        output.ShouldContain("not found");
        output.ShouldContain("1 checked, 0 updates, 1 error");
    }

    [Theory]
    [InlineData(new string[0], "no image given")]
    [InlineData(new[] { "Bad/Name" }, "must be lowercase")]
    [InlineData(new[] { "nginx", "--max-bump", "huge" }, "--max-bump \"huge\" must be patch, minor or major")]
    [InlineData(new[] { "nginx", "--include", "([" }, "--include \"([\" is not a valid regular expression")]
    [InlineData(new[] { "nginx", "--current-digest", "abc" }, "--current-digest \"abc\" is not a digest")]
    [InlineData(new[] { "nginx", "--frobnicate" }, "unknown option --frobnicate")]
    [InlineData(new[] { "a", "b", "c", "--current-digest", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "--current-digest", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }, "once per image")]
    [InlineData(new[] { "nginx", "--max-bump" }, "--max-bump needs a value")]
    public async Task RunAsync_BadInput_ExitsTwoWithClearMessage(string[] args, string message)
    {
        var (exit, output, error) = await RunAsync(args);

        exit.ShouldBe(2);
        error.ShouldContain(message);
        output.ShouldBeEmpty();
    }

    [Fact]
    public async Task RunAsync_BadEnvironment_NamesEachVariable()
    {
        using var stderr = new StringWriter();
        var env = new Dictionary<string, string> { ["REGISTRY_USERNAME"] = "u", ["REGISTRY_CONCURRENCY"] = "many" };

        var exit = await CheckCommand.RunAsync(["nginx"], TextWriter.Null, stderr, name => env.GetValueOrDefault(name), CancellationToken.None);

        exit.ShouldBe(2);
        stderr.ToString().ShouldContain("REGISTRY_CONCURRENCY=\"many\"");
        stderr.ToString().ShouldContain("REGISTRY_USERNAME and REGISTRY_PASSWORD must be set together");
    }

    [Fact]
    public async Task RunAsync_RegistryCredentialsFromEnvironment_UsedForRegistryHostOnly()
    {
        await using var registry = await RegistryInstance.StartHtpasswdAsync("ci", "env-secret-42");
        using var pusher = new ImagePusher(registry.Host, _ => new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("ci:env-secret-42"u8.ToArray())));
        await pusher.PushImageAsync("team/svc", "5.0.0");
        await pusher.PushImageAsync("team/svc", "5.0.1");
        var withCredentials = new Dictionary<string, string>
        {
            ["REGISTRY_AUTH_FILE"] = "/nonexistent/config.json", ["REGISTRY_USERNAME"] = "ci", ["REGISTRY_PASSWORD"] = "env-secret-42", ["REGISTRY_HOST"] = registry.Host,
        };
        var forOtherRegistry = new Dictionary<string, string>(withCredentials) { ["REGISTRY_HOST"] = "ghcr.io" };

        using var ok = new StringWriter();
        using var denied = new StringWriter();
        var okExit = await CheckCommand.RunAsync([$"{registry.Host}/team/svc:5.0.0"], ok, TextWriter.Null, n => withCredentials.GetValueOrDefault(n), CancellationToken.None);
        var deniedExit = await CheckCommand.RunAsync([$"{registry.Host}/team/svc:5.0.0"], denied, TextWriter.Null, n => forOtherRegistry.GetValueOrDefault(n), CancellationToken.None);

        okExit.ShouldBe(0);
        ok.ToString().ShouldContain("5.0.1");
        deniedExit.ShouldBe(1);
        denied.ToString().ShouldContain("refused access");
        denied.ToString().ShouldNotContain("env-secret-42");
    }

    [Theory]
    [InlineData("Tiaki.Agent.Docker", "tiaki-agent-docker")]
    [InlineData("Tiaki.Agent.Kubernetes", "tiaki-agent-k8s")]
    public async Task AgentBinary_CheckJson_ExitsZeroWithUpdate(string project, string binary)
    {
        var repo = TestServices.UniqueRepository("bin");
        await _pusher.PushImageAsync(repo, "0.9");
        var newest = await _pusher.PushImageAsync(repo, "0.10");

        var (exit, output, error) = await RunBinaryAsync(project, binary, "check", $"{_registry}/{repo}:0.9", "--json");

        exit.ShouldBe(0, error);
        using var doc = JsonDocument.Parse(output);
        var image = doc.RootElement.GetProperty("images")[0];
        image.GetProperty("latestTag").GetString().ShouldBe("0.10");
        image.GetProperty("latestDigest").GetString().ShouldBe(newest);
        image.GetProperty("update").GetBoolean().ShouldBeTrue();
    }

    [Fact]
    public async Task AgentBinary_CheckWithoutImage_ExitsTwoWithUsage()
    {
        var (exit, _, error) = await RunBinaryAsync("Tiaki.Agent.Docker", "tiaki-agent-docker", "check");

        exit.ShouldBe(2);
        error.ShouldContain("no image given");
        error.ShouldContain("usage: check IMAGE");
    }

    private static async Task<(int Exit, string Out, string Err)> RunBinaryAsync(string project, string binary, params string[] args)
    {
        // Built beside this test project (same configuration) through a non-referencing ProjectReference.
        var testDir = new DirectoryInfo(AppContext.BaseDirectory); // tests/X/bin/<Config>/net10.0/
        var configuration = testDir.Parent!.Name;
        var root = testDir.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(root, "src", project, "bin", configuration, "net10.0", binary);
        File.Exists(path).ShouldBeTrue($"agent binary not built at {path}");

        var psi = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["REGISTRY_AUTH_FILE"] = "/nonexistent/config.json";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
