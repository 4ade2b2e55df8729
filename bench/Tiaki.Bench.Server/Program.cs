// Server benchmark: (a) long-poll command delivery latency (deploy request -> the agent's poll returns) and
// (b) report ingest (500 agents x 50 containers submitted concurrently), on SQLite and PostgreSQL.
// The server runs in this process on real Kestrel over loopback. Writes bench/results/server.md.
// Usage: dotnet run -c Release --project bench/Tiaki.Bench.Server [-- --agents 500 --containers 50 --deliveries 200]
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using Tiaki.Contracts;

namespace Tiaki.Bench.Server;

internal static class Bench
{
    private static int agents;
    private static int containers;
    private static int deliveries;

    public static async Task Main(string[] args)
    {
        agents = Arg(args, "--agents", 500);
        containers = Arg(args, "--containers", 50);
        deliveries = Arg(args, "--deliveries", 200);
        var root = FindRoot();
        var results = new List<string>();
        // WebApplicationFactory looks for the server's content root beside the solution; tell it where it is.
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_TIAKI_SERVER", Path.Combine(root, "src", "Tiaki.Server"));

        results.AddRange(await RunAsync("SQLite", null));
        if (Environment.GetEnvironmentVariable("TIAKI_TEST_POSTGRES") is { Length: > 0 } pg)
        {
            results.AddRange(await RunAsync("PostgreSQL", pg));
        }
        else
        {
            Console.Error.WriteLine("TIAKI_TEST_POSTGRES is not set: PostgreSQL skipped (run through ./scripts/test.sh's services).");
        }

        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        var md = new StringBuilder()
            .AppendLine("# Server benchmark")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Run {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, .NET {Environment.Version}, Release build; the server runs in-process on Kestrel, clients over loopback HTTP. Load average at the end of the run: {load} (the machine is shared with other builds and test runs, so these are pessimistic).")
            .AppendLine(CultureInfo.InvariantCulture, $"Ingest: {agents} agents x {containers} containers (+5 updates each), all submitted at once, 3 rounds (round 1 inserts; round 2 repeats the same state, as most reports do; round 3 changes every container's tag and digest). Delivery: {deliveries} deploys, each measured from sending `POST /admin/updates/{{id}}/deploy` to the agent's waiting `GET /reports/commands?wait=30` returning.")
            .AppendLine("Targets: delivery p99 <= 50 ms; ingest >= 200 reports/s on PostgreSQL.")
            .AppendLine()
            .AppendLine("| database | measurement | result |")
            .AppendLine("|---|---|---|");
        foreach (var r in results)
        {
            md.AppendLine(r);
        }

        var output = Path.Combine(root, "bench", "results", "server.md");
        await File.WriteAllTextAsync(output, md.ToString());
        Console.WriteLine(md);
        Console.WriteLine($"written to {output}");
    }

    static async Task<List<string>> RunAsync(string name, string? postgresAdmin)
    {
        var rows = new List<string>();
        var dataDir = Directory.CreateTempSubdirectory("tiaki-bench-").FullName;
        var dbName = $"tiaki_bench_{Guid.NewGuid():N}"[..28];
        string databaseUrl;
        if (postgresAdmin is null)
        {
            databaseUrl = $"Data Source={Path.Combine(dataDir, "tiaki.db")}";
        }
        else
        {
            await Exec(postgresAdmin, $"CREATE DATABASE \"{dbName}\"");
            databaseUrl = new NpgsqlConnectionStringBuilder(postgresAdmin) { Database = dbName, MaxPoolSize = 100 }.ConnectionString;
        }

        const string adminToken = "bench-admin-token-0123456789abcdef";
        try
        {
            await using var factory = new WebApplicationFactory<global::Program>().WithWebHostBuilder(b =>
            {
                b.UseEnvironment("Production");
                b.UseSetting("ADMIN_TOKEN", adminToken);
                b.UseSetting("DATABASE_URL", databaseUrl);
                b.UseSetting("TIAKI_DATA_DIR", dataDir);
                b.UseSetting("RUN_SCHEDULER", "false");
            b.UseSetting("URLS", "http://127.0.0.1:0");
                b.UseSetting("Logging:LogLevel:Default", "Warning");
                b.UseSetting("Logging:LogLevel:Microsoft.AspNetCore", "Error");
            });
            factory.UseKestrel(0);
            factory.StartServer();
            var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
            var baseAddress = factory.CreateClient().BaseAddress!;
            HttpClient Client(string? bearer)
            {
                var c = new HttpClient(handler, disposeHandler: false) { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(5) };
                if (bearer is not null)
                {
                    c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
                }

                return c;
            }

            var login = await (await Client(null).PostAsJsonAsync("/api/v1/auth/login", new { token = adminToken })).Content.ReadFromJsonAsync<JsonElement>();
            var admin = Client(login.GetProperty("accessToken").GetString());

            Console.WriteLine($"[{name}] creating {agents} agents");
            var keys = new string[agents];
            await Parallel.ForEachAsync(Enumerable.Range(0, agents), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
            {
                var res = await admin.PostAsJsonAsync("/api/v1/admin/agents", new { name = $"bench-{i}", type = "vm" }, ct);
                keys[i] = (await res.Content.ReadFromJsonAsync<RegisterAgentResponse>(ct))!.ApiKey;
            });
            var clients = keys.Select(Client).ToArray();
            // First use pays argon2 once per key; the ingest rounds then measure the steady state agents live in.
            await Parallel.ForEachAsync(clients, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (c, ct) => (await c.PostAsync("/api/v1/agents/heartbeat", null, ct)).EnsureSuccessStatusCode());

            for (var round = 1; round <= 3; round++)
            {
                var reports = clients.Select((_, i) => Report(i, containers, round)).ToArray();
                var latencies = new double[agents];
                var failures = 0;
                var wall = Stopwatch.StartNew();
                await Task.WhenAll(clients.Select(async (c, i) =>
                {
                    var sw = Stopwatch.StartNew();
                    var res = await c.PostAsJsonAsync("/api/v1/reports/submit", reports[i]);
                    latencies[i] = sw.Elapsed.TotalMilliseconds;
                    if (!res.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref failures);
                    }
                }));
                wall.Stop();
                var rate = agents / wall.Elapsed.TotalSeconds;
                var line = $"| {name} | ingest round {round}: {agents} reports x {containers} containers | {rate:F0} reports/s; p50 {P(latencies, 50):F0} ms, p99 {P(latencies, 99):F0} ms; {failures} failed |";
                Console.WriteLine(line);
                rows.Add(line);
            }

            // Delivery latency: one agent long-polls; each deploy must wake it.
            var agent = clients[0];
            await agent.PostAsJsonAsync("/api/v1/reports/submit", Report(0, 1, 9));
            var updates = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/updates?status=pending");
            var agentUpdates = updates.EnumerateArray().Select(u => u.GetProperty("id").GetString()!).ToList();
            var updateId = agentUpdates.First();
            var samples = new List<double>();
            for (var i = 0; i < deliveries + 10; i++)
            {
                var poll = agent.GetFromJsonAsync<CommandsResponse>("/api/v1/reports/commands?wait=30");
                await Task.Delay(15);
                var sw = Stopwatch.StartNew();
                var deploy = await admin.PostAsync($"/api/v1/admin/updates/{updateId}/deploy", null);
                if (deploy.StatusCode != System.Net.HttpStatusCode.Accepted)
                {
                    throw new InvalidOperationException($"deploy returned {(int)deploy.StatusCode}: {await deploy.Content.ReadAsStringAsync()}");
                }

                var got = await poll;
                sw.Stop();
                var cmd = got!.Commands.Single();
                if (i >= 10)
                {
                    samples.Add(sw.Elapsed.TotalMilliseconds);
                }

                // A failed result makes the update deployable again for the next round.
                (await agent.PostAsJsonAsync($"/api/v1/reports/commands/{cmd.CommandId}/result", new CommandResult(cmd.CommandId, false, "bench"))).EnsureSuccessStatusCode();
            }

            var arr = samples.ToArray();
            var dline = $"| {name} | long-poll delivery, {arr.Length} deploys | p50 {P(arr, 50):F1} ms, p99 {P(arr, 99):F1} ms, max {arr.Max():F1} ms |";
            Console.WriteLine(dline);
            rows.Add(dline);
        }
        finally
        {
            if (postgresAdmin is not null)
            {
                NpgsqlConnection.ClearAllPools();
                await Exec(postgresAdmin, $"DROP DATABASE IF EXISTS \"{dbName}\" WITH (FORCE)");
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dataDir, recursive: true);
        }

        return rows;
    }

    static SubmitReportRequest Report(int agent, int count, int round)
    {
        var list = new List<ContainerReport>(count);
        var updates = new List<UpdateReport>();
        for (var c = 0; c < count; c++)
        {
            // Round 3 changes every tag: the full state really replaces rows.
            var tag = round == 3 ? "1.1.0" : "1.0.0";
            list.Add(new ContainerReport($"a{agent}-c{c}", $"svc-{c}", $"registry.example/team/app{c}", tag, $"sha256:{agent:x8}{c:x8}{round}",
                "/srv/app/compose.yml", $"svc-{c}") { Labels = new Dictionary<string, string> { ["tiaki.policy"] = "manual" } });
            if (c < 5)
            {
                updates.Add(new UpdateReport($"a{agent}-c{c}", tag, "2.0.0", $"sha256:new{c}"));
            }
        }

        return new SubmitReportRequest(list, updates);
    }

    static double P(double[] values, int percentile)
    {
        var sorted = values.Order().ToArray();
        var idx = (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(idx, 0, sorted.Length - 1)];
    }

    static async Task Exec(string cs, string sql)
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tiaki.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }
}
