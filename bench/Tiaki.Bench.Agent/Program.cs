// Footprint of the Docker agent: idle resident memory of the published (NativeAOT) binary, and the
// CPU time one scan of 50 containers costs. Needs the Docker engine (DOCKER_HOST) and a published
// agent: dotnet publish -c Release src/Tiaki.Agent.Docker -o /tmp/tiaki-agent-publish
//   dotnet run -c Release --project bench/Tiaki.Bench.Agent -- [/path/to/tiaki-agent-docker]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Tiaki.Agent.Core.Git;
using Tiaki.Agent.Core.Processes;
using Tiaki.Agent.Docker.Runtime;

var agentBinary = args.Length > 0 ? args[0] : "/tmp/tiaki-agent-publish/tiaki-agent-docker";
var dockerHost = Environment.GetEnvironmentVariable("DOCKER_HOST") ?? "unix:///var/run/docker.sock";
const int Containers = 50;
var runner = new ProcessRunner();
async Task<string> Run(params string[] a)
{
    var r = await runner.RunAsync(new ProcessSpec(a[0], a[1..]), default);
    if (!r.Succeeded) throw new InvalidOperationException(r.Describe(string.Join(' ', a)));
    return r.StandardOutput.Trim();
}

// 50 containers on one busybox image.
var work = Directory.CreateTempSubdirectory("tdk-bench-").FullName;
Directory.CreateDirectory(Path.Combine(work, "r", "bin"));
File.Copy("/bin/busybox", Path.Combine(work, "r", "bin", "busybox"));
foreach (var a in new[] { "sh", "sleep" }) File.CreateSymbolicLink(Path.Combine(work, "r", "bin", a), "busybox");
await Run("tar", "-C", Path.Combine(work, "r"), "-cf", Path.Combine(work, "r.tar"), ".");
const string Image = "tdk-bench/idle:1.0.0";
await Run("docker", "import", "-c", "CMD [\"/bin/sleep\",\"3600\"]", Path.Combine(work, "r.tar"), Image);
var names = Enumerable.Range(0, Containers).Select(i => $"tdk-bench-{i:D2}").ToList();
foreach (var n in names) await Run("docker", "run", "-d", "--name", n, "--network", "none", "--init", "-l", "com.docker.compose.project=tdkbench", "-l", "com.docker.compose.service=" + n, Image);

var report = new StringBuilder();
try
{
    // CPU time of one scan, in process (after a warm-up scan, so JIT is not counted).
    using var docker = await DockerClientFactory.CreateAsync(dockerHost, default);
    var runtime = new DockerRuntime(docker, new DockerRuntimeSettings(dockerHost, TimeSpan.FromSeconds(30), null, new GitSettings(false, "b", "b@b")),
        runner, TimeProvider.System, NullLogger<DockerRuntime>.Instance);
    var seen = (await runtime.ScanAsync(default)).Count;
    var self = Process.GetCurrentProcess();
    var cpu = new List<double>();
    var wall = new List<double>();
    for (var i = 0; i < 10; i++)
    {
        self.Refresh();
        var c0 = self.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        await runtime.ScanAsync(default);
        sw.Stop();
        self.Refresh();
        cpu.Add((self.TotalProcessorTime - c0).TotalMilliseconds);
        wall.Add(sw.Elapsed.TotalMilliseconds);
    }
    cpu.Sort();
    wall.Sort();

    // Idle RSS of the published agent: a stub control plane holds every long poll, as a real one does.
    using var listener = new HttpListener();
    var port = FreePort();
    listener.Prefixes.Add($"http://127.0.0.1:{port}/");
    listener.Start();
    _ = Task.Run(async () =>
    {
        while (listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await listener.GetContextAsync(); } catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
            _ = Task.Run(async () =>
            {
                if (ctx.Request.Url!.AbsolutePath.EndsWith("/commands", StringComparison.Ordinal)) await Task.Delay(TimeSpan.FromSeconds(30));
                ctx.Response.StatusCode = ctx.Request.Url.AbsolutePath.EndsWith("/commands", StringComparison.Ordinal) ? 200 : 204;
                if (ctx.Response.StatusCode == 200) await ctx.Response.OutputStream.WriteAsync("{\"commands\":[]}"u8.ToArray());
                ctx.Response.Close();
            });
        }
    });
    var psi = new ProcessStartInfo(agentBinary) { RedirectStandardOutput = true, RedirectStandardError = true };
    psi.Environment["CONTROL_URL"] = $"http://127.0.0.1:{port}";
    psi.Environment["AGENT_API_KEY"] = "bench";
    psi.Environment["AGENT_STATE_DIR"] = Path.Combine(work, "state");
    psi.Environment["DOCKER_HOST"] = dockerHost;
    psi.Environment["SCAN_INTERVAL"] = "10m";
    using var agent = Process.Start(psi)!;
    var agentOut = agent.StandardOutput.ReadToEndAsync();
    var agentErr = agent.StandardError.ReadToEndAsync();
    await Task.Delay(TimeSpan.FromSeconds(20)); // start, first scan of 50 containers, report, then idle in the long poll
    if (agent.HasExited) throw new InvalidOperationException($"the agent exited with {agent.ExitCode}: {await agentOut}{await agentErr}");
    var status = await File.ReadAllLinesAsync($"/proc/{agent.Id}/status");
    var rssKb = long.Parse(status.First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    var hwmKb = long.Parse(status.First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    agent.Refresh();
    var agentCpu = agent.TotalProcessorTime.TotalMilliseconds;
    agent.Kill();
    listener.Stop();
    var size = new FileInfo(agentBinary).Length;

    report.AppendLine("# Docker agent footprint").AppendLine()
        .AppendLine(CultureInfo.InvariantCulture, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC by `bench/Tiaki.Bench.Agent` on {Environment.ProcessorCount} cores (shared with other builds), Docker engine {await Run("docker", "version", "--format", "{{.Server.Version}}")}.").AppendLine()
        .AppendLine("| figure | value | target |").AppendLine("|---|---|---|")
        .AppendLine(CultureInfo.InvariantCulture, $"| NativeAOT binary size (linux-x64) | {size / 1024.0 / 1024.0:0.0} MB | ≤ 30 MB |")
        .AppendLine(CultureInfo.InvariantCulture, $"| idle RSS of the published agent, 20 s after start ({seen} containers scanned) | {rssKb / 1024.0:0.0} MB (peak {hwmKb / 1024.0:0.0} MB) | ≤ 30 MB |")
        .AppendLine(CultureInfo.InvariantCulture, $"| CPU time of the published agent from start to idle (start, one scan, report, polls) | {agentCpu:0} ms | |")
        .AppendLine(CultureInfo.InvariantCulture, $"| CPU time of one scan of {Containers} containers (in process, JIT warm, median of 10) | {cpu[cpu.Count / 2]:0.0} ms (min {cpu[0]:0.0}, max {cpu[^1]:0.0}) | |")
        .AppendLine(CultureInfo.InvariantCulture, $"| wall time of that scan (median of 10) | {wall[wall.Count / 2]:0.0} ms | |")
        .AppendLine().AppendLine("A scan is one container list call plus one image inspect per distinct image (the 50 containers share one image and carry compose project/service labels without config files, so no compose file is read).");
}
finally
{
    foreach (var n in names) await runner.RunAsync(new ProcessSpec("docker", ["rm", "-f", n]), default);
    Directory.Delete(work, true);
}

var results = Path.Combine(FindRepoRoot(), "bench", "results", "agent.md");
await File.WriteAllTextAsync(results, report.ToString());
Console.Write(report);
Console.WriteLine($"written to {results}");

static int FreePort()
{
    using var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    return ((IPEndPoint)l.LocalEndpoint).Port;
}

static string FindRepoRoot()
{
    var d = new DirectoryInfo(AppContext.BaseDirectory);
    while (d is not null && !File.Exists(Path.Combine(d.FullName, "Tiaki.slnx"))) d = d.Parent;
    return d?.FullName ?? Directory.GetCurrentDirectory();
}
