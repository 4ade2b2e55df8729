// Time to first render of the dashboard's Containers page with 5,000 containers over 50 agents (target: under 1 s).
// Runs the real server on a real port with a SQLite file, fills it through the agent API, then measures
//   1. the server-rendered HTML of /containers (what the browser paints first), over HTTP with the session cookie;
//   2. in Chromium: navigation start until the first rows are painted, and until the page is interactive.
// Writes bench/results/dashboard.md.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Tiaki.Contracts;

const int Agents = 50;
const int PerAgent = 100;
const int Runs = 15;
const string AdminToken = "bench-admin-token-0123456789abcdef";
var inv = CultureInfo.InvariantCulture;

// Outside a test project there is no test manifest telling the factory where the server's content root is.
Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_TIAKI_SERVER", Path.Combine(FindRepo(), "src", "Tiaki.Server"));
var dataDir = Directory.CreateTempSubdirectory("tiaki-bench-dashboard-").FullName;
await using var factory = new BenchFactory(new Dictionary<string, string?>
{
    ["ADMIN_TOKEN"] = AdminToken,
    ["DATABASE_URL"] = $"Data Source={Path.Combine(dataDir, "tiaki.db")}",
    ["TIAKI_DATA_DIR"] = dataDir,
    ["RUN_SCHEDULER"] = "false",
});
factory.UseKestrel(0);
factory.StartServer();
var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()
    .Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
var baseUri = new Uri(address);
using var http = new HttpClient { BaseAddress = baseUri };

var login = await http.PostAsJsonAsync("/api/v1/auth/login", new { token = AdminToken });
login.EnsureSuccessStatusCode();
var jwt = (await login.Content.ReadFromJsonAsync<Jwt>())!.AccessToken;

Console.WriteLine($"Seeding {Agents} agents x {PerAgent} containers through the agent API...");
var seed = Stopwatch.StartNew();
using (var admin = new HttpClient { BaseAddress = baseUri })
{
    admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", jwt);
    for (var a = 0; a < Agents; a++)
    {
        var created = await admin.PostAsJsonAsync("/api/v1/admin/agents", new { name = $"host-{a:00}", type = "vm" });
        created.EnsureSuccessStatusCode();
        var key = (await created.Content.ReadFromJsonAsync<RegisterAgentResponse>())!.ApiKey;
        using var agent = new HttpClient { BaseAddress = baseUri };
        agent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var containers = Enumerable.Range(0, PerAgent).Select(i => new ContainerReport(
            $"c{a}-{i}", $"app-{i:000}", $"registry.example/team-{i % 7}/service-{i % 23}", $"1.{i % 10}.0",
            $"sha256:{a:x4}{i:x4}{new string('0', 56)}", "/srv/stack/compose.yml", $"svc-{i}") { ComposeProject = $"stack-{i % 5}" }).ToList();
        var updates = containers.Where((_, i) => i % 5 == 0).Select(c => new UpdateReport(c.ContainerId, c.Tag, "2.0.0", $"sha256:{new string('f', 64)}")
            { Bump = "major" }).ToList();
        var res = await agent.PostAsJsonAsync("/api/v1/reports/submit", new SubmitReportRequest(containers, updates));
        res.EnsureSuccessStatusCode();
    }
}

Console.WriteLine($"Seeded in {seed.Elapsed.TotalSeconds:F1} s");

// 1. Server-rendered first paint: GET /containers with the session cookie (the same JWT, as the login form sets it).
var cookies = new CookieContainer();
cookies.Add(baseUri, new System.Net.Cookie("tiaki_session", jwt));
using var browserLike = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = baseUri };
var html = await browserLike.GetStringAsync("/containers"); // warm-up (JIT, EF model, pools)
if (!html.Contains("app-000", StringComparison.Ordinal) || !html.Contains(">5000<", StringComparison.Ordinal))
{
    throw new InvalidOperationException("The Containers page did not render the seeded containers; the measurement would be meaningless.");
}

var ssr = new List<double>();
for (var i = 0; i < Runs; i++)
{
    var sw = Stopwatch.StartNew();
    var body = await browserLike.GetStringAsync("/containers");
    ssr.Add(sw.Elapsed.TotalMilliseconds);
    _ = body.Length;
}

// 2. In Chromium: navigation start -> first rows painted (prerendered HTML) and -> interactive (circuit connected).
using var playwright = await Playwright.CreateAsync();
await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
{
    ExecutablePath = "/usr/bin/chromium",
    Headless = true,
    Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
});
var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = baseUri.ToString() });
await context.AddCookiesAsync([new Microsoft.Playwright.Cookie { Name = "tiaki_session", Value = jwt, Url = baseUri.ToString(), HttpOnly = true, SameSite = SameSiteAttribute.Strict }]);
var page = await context.NewPageAsync();
await page.GotoAsync("/containers");
await page.Locator(".mud-layout[data-interactive=true]").WaitForAsync();

var firstRows = new List<double>();
var interactive = new List<double>();
for (var i = 0; i < Runs; i++)
{
    var sw = Stopwatch.StartNew();
    await page.GotoAsync("/containers", new PageGotoOptions { WaitUntil = WaitUntilState.Commit });
    await page.Locator("[data-testid=containers-table] tbody tr").First.WaitForAsync();
    firstRows.Add(sw.Elapsed.TotalMilliseconds);
    await page.Locator(".mud-layout[data-interactive=true]").WaitForAsync();
    interactive.Add(sw.Elapsed.TotalMilliseconds);
}

// Paging to the last of 100 pages, interactively (a click, one query, one render diff).
var lastPage = new List<double>();
for (var i = 0; i < 5; i++)
{
    await page.GotoAsync("/containers");
    await page.Locator(".mud-layout[data-interactive=true]").WaitForAsync();
    var sw = Stopwatch.StartNew();
    await page.Locator(".mud-pagination").GetByText("100", new() { Exact = true }).ClickAsync();
    await page.Locator("[data-testid=containers-table] tbody tr", new() { HasText = "host-49" }).First.WaitForAsync();
    lastPage.Add(sw.Elapsed.TotalMilliseconds);
}

static double P(List<double> xs, double q)
{
    var s = xs.Order().ToList();
    return s[(int)Math.Min(s.Count - 1, Math.Round(q * (s.Count - 1)))];
}

var sb = new StringBuilder();
sb.AppendLine("# Dashboard: time to first render of the Containers page");
sb.AppendLine();
sb.AppendLine(inv, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC by `bench/Tiaki.Bench.Dashboard` on this machine ({Environment.ProcessorCount} cores, shared with other builds), Release build, SQLite file.");
sb.AppendLine(inv, $"Data: {Agents} agents x {PerAgent} containers = {Agents * PerAgent} containers, {Agents * PerAgent / 5} pending updates, put there through the agent API. Page size 50, sorted by host then name. {Runs} runs each after a warm-up.");
sb.AppendLine();
sb.AppendLine("| what | median | p95 | max |");
sb.AppendLine("|---|---|---|---|");
void Row(string what, List<double> xs) => sb.AppendLine(inv, $"| {what} | {P(xs, 0.5):F0} ms | {P(xs, 0.95):F0} ms | {xs.Max():F0} ms |");
Row("server-rendered `/containers` (HTTP GET, full HTML, first 50 rows + total count)", ssr);
Row("Chromium: navigation to first rows painted", firstRows);
Row("Chromium: navigation to interactive (circuit connected)", interactive);
Row("Chromium: click \"last page\" to rows of page 100 shown", lastPage);
sb.AppendLine();
var verdict = P(firstRows, 0.95) < 1000 ? "met" : "NOT met";
sb.AppendLine(inv, $"Target (first render under 1 s): **{verdict}** (p95 first rows painted: {P(firstRows, 0.95):F0} ms).");
var outPath = Path.Combine(FindRepo(), "bench", "results", "dashboard.md");
await File.WriteAllTextAsync(outPath, sb.ToString());
Console.WriteLine(sb.ToString());
Console.WriteLine($"Written to {outPath}");
try
{
    Directory.Delete(dataDir, recursive: true);
}
catch (IOException)
{
}

static string FindRepo()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Tiaki.slnx")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("Run from inside the repository.");
}

internal sealed record Jwt(string AccessToken);

// Any public type of the server assembly names it; the server's own Program (its entry point) is what runs.
// (The server's `Program` itself clashes with this file's top-level program.)
internal sealed class BenchFactory(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<Tiaki.Server.Components.App>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        foreach (var (k, v) in settings)
        {
            builder.UseSetting(k, v);
        }
    }
}
