using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Tiaki.Agent.Core.Runtime;
using Tiaki.Agent.Core.Updates;
using Tiaki.Contracts;
using Tiaki.Testing.Registry;

// 200 distinct images: half on version tags with a newer version (tag list + HEAD of the candidate
// + its manifest and config for the changelog), half on "latest" compared by digest (one HEAD).
const int Images = 200;
const int Concurrency = 8;
var latency = TimeSpan.FromMilliseconds(int.TryParse(Environment.GetEnvironmentVariable("BENCH_LATENCY_MS"), out var ms) ? ms : 20);

await using var tokens = await TokenServer.StartAsync();
await using var registry = await RegistryInstance.StartTokenAsync(tokens);
await using var proxy = await RegistryProxy.StartAsync(registry.Host);
using var pusher = new ImagePusher(registry.Host, repo => new AuthenticationHeaderValue("Bearer", tokens.Mint(repo)));

Console.WriteLine($"pushing {Images} images to {registry.Host} ...");
var containers = new List<ScannedContainer>();
var warmup = new List<ScannedContainer>();
using (var gate = new SemaphoreSlim(8))
{
    var pushes = Enumerable.Range(0, Images + 4).Select(async i =>
    {
        await gate.WaitAsync();
        try
        {
            var repo = $"bench/app-{i:000}";
            var spec = new ImageSpec { Labels = new() { ["org.opencontainers.image.source"] = $"https://github.com/bench/app-{i:000}" } };
            if (i % 2 == 0)
            {
                var current = await pusher.PushImageAsync(repo, "1.0.0", spec);
                await pusher.PushImageAsync(repo, "1.0.1", spec);
                await pusher.PushImageAsync(repo, "1.1.0", spec);
                return Container(repo, "1.0.0", current, i);
            }
            var latest = await pusher.PushImageAsync(repo, "latest", spec);
            return Container(repo, "latest", latest, i);
        }
        finally
        {
            gate.Release();
        }
    }).ToList();
    var all = await Task.WhenAll(pushes);
    containers.AddRange(all.Take(Images));
    warmup.AddRange(all.Skip(Images));
}

// JIT and connection warm-up on other repositories with another checker (its tokens are not reused).
using (var warm = NewChecker()) await warm.CheckAsync(warmup, CancellationToken.None);

// The same check with no added latency: what the proxy, the registry, token signing and the client cost in CPU here.
var overhead = Stopwatch.StartNew();
using (var baseline = NewChecker()) await baseline.CheckAsync(containers, CancellationToken.None);
overhead.Stop();

proxy.Delay = latency;
tokens.Delay = latency;
proxy.ResetCounts();
tokens.RequestsByScope.Clear();

using var checker = NewChecker();
var clock = Stopwatch.StartNew();
var checks = await checker.CheckAsync(containers, CancellationToken.None);
clock.Stop();

var errors = checks.Count(c => c.Error is not null);
var updates = checks.Count(c => c.Update is not null);
var digestChecked = containers.Count(c => c.Report.Tag == "latest");
var versionChecked = Images - digestChecked;
var registryRequests = proxy.TotalRequests;
var tokenRequests = tokens.TotalRequests;
var maxTokensPerScope = tokens.RequestsByScope.Values.DefaultIfEmpty(0).Max();
var total = registryRequests + tokenRequests;
var lowerBound = TimeSpan.FromMilliseconds(total * latency.TotalMilliseconds / Concurrency);
var ratio = clock.Elapsed / lowerBound;
var registryBound = TimeSpan.FromMilliseconds(registryRequests * latency.TotalMilliseconds / Concurrency);

var inv = CultureInfo.InvariantCulture;
var md = new StringBuilder();
md.AppendLine("# Registry check benchmark").AppendLine();
md.AppendLine(inv, $"Run {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC by `dotnet run -c Release --project bench/Tiaki.Bench.Registry` on {Environment.ProcessorCount} cores shared with other builds (load average at the end: {LoadAverage()}).").AppendLine();
md.AppendLine(inv, $"Setup: {Images} distinct repositories on a local `docker-registry` with token auth; every registry request goes through a counting proxy that adds {latency.TotalMilliseconds:0} ms, and the token service adds {latency.TotalMilliseconds:0} ms too. {versionChecked} images run a version tag (`1.0.0`, newer `1.0.1`/`1.1.0` exist), {digestChecked} run `latest` (digest comparison, up to date). Concurrency per registry: {Concurrency}. Changelog/created details are fetched for each update found.").AppendLine();
md.AppendLine("| figure | value | target |").AppendLine("|---|---|---|");
md.AppendLine(inv, $"| images checked / updates / errors | {checks.Count} / {updates} / {errors} | {Images} / {versionChecked} / 0 |");
md.AppendLine(inv, $"| registry requests (through the proxy) | {registryRequests} | |");
foreach (var (kind, count) in proxy.Counts.OrderBy(k => k.Key, StringComparer.Ordinal))
    md.AppendLine(inv, $"| &nbsp;&nbsp;{kind} | {count} | |");
md.AppendLine(inv, $"| requests per image (registry + token) | {(double)total / Images:0.00} | |");
md.AppendLine(inv, $"| manifest requests per digest-checked image | {(double)CountManifestRequestsForLatest() / digestChecked:0.00} | ≤ 1 |");
md.AppendLine(inv, $"| token requests | {tokenRequests} for {tokens.RequestsByScope.Count} repository scopes (max {maxTokensPerScope} per scope) | ≤ 1 per scope |");
md.AppendLine(inv, $"| wall time | {clock.Elapsed.TotalMilliseconds:0} ms | |");
md.AppendLine(inv, $"| lower bound = {total} requests × {latency.TotalMilliseconds:0} ms ÷ {Concurrency} | {lowerBound.TotalMilliseconds:0} ms | |");
md.AppendLine(inv, $"| wall ÷ lower bound | {ratio:0.00} | ≤ 1.5 |");
md.AppendLine(inv, $"| same check with 0 ms added latency (CPU cost on this machine) | {overhead.Elapsed.TotalMilliseconds:0} ms | |");
md.AppendLine(inv, $"| wall ÷ registry-only bound ({registryRequests} × {latency.TotalMilliseconds:0} ms ÷ {Concurrency} = {registryBound.TotalMilliseconds:0} ms) | {clock.Elapsed / registryBound:0.00} | |");
md.AppendLine().AppendLine(inv, $"Requests per version-tagged image with an update: tag list, HEAD of the newest tag, GET of its manifest and GET of its config (the last two only for the changelog link and build time). A digest-checked image costs one HEAD. Each repository needs one token (scope `repository:NAME:pull`); the registry is pinged once. Token requests go to the token service (another host) outside the per-registry concurrency gate, so the conservative bound counts them as if they shared the {Concurrency} slots; the registry-only bound is the strict one for the registry's own slots.");

md.AppendLine().AppendLine(inv, $"Reading the ratio: the 0 ms run costs {overhead.Elapsed.TotalMilliseconds:0} ms against a {lowerBound.TotalMilliseconds:0} ms bound. When that CPU cost (proxy, registry, RS256 token signing and client all on these {Environment.ProcessorCount} cores, beside other builds) approaches the bound, the CPU and not the request pattern sets the wall time; the request counts above are the figures that carry over to a real registry.");

var root = FindRoot();
var output = Path.Combine(root, "bench", "results", "registry.md");
await File.WriteAllTextAsync(output, md.ToString());
Console.WriteLine(md.ToString());
Console.WriteLine($"written to {output}");
return errors == 0 ? 0 : 1;

// Digest-checked images only ask for the "latest" manifest; the proxy counts manifests in total,
// so subtract what the version-tag images need (one HEAD and one GET each).
int CountManifestRequestsForLatest() =>
    proxy.Count("HEAD manifest") + proxy.Count("GET manifest") - 2 * versionChecked;

ScannedContainer Container(string repo, string tag, string digest, int i) => new(
    new ContainerReport($"c{i}", $"app-{i}", $"{proxy.Host}/{repo}", tag, digest),
    $"{proxy.Host}/{repo}:{tag}",
    [$"{proxy.Host}/{repo}@{digest}"],
    new Dictionary<string, string>());

UpdateChecker NewChecker() => new(new UpdateCheckerOptions { AuthFile = "/nonexistent/config.json", ConcurrencyPerRegistry = Concurrency });

static string FindRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tiaki.slnx"))) dir = dir.Parent;
    return dir?.FullName ?? throw new InvalidOperationException("Tiaki.slnx not found");
}

static string LoadAverage() =>
    File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
