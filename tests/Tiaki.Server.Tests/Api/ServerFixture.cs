using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Tiaki.Contracts;

namespace Tiaki.Server.Tests.Api;

/// <summary>The real server in-process (WebApplicationFactory) on a real database, with a fake clock.</summary>
public sealed class TiakiFactory(IReadOnlyDictionary<string, string?> settings, FakeTimeProvider time) : WebApplicationFactory<Program>
{
    public FakeTimeProvider Time { get; } = time;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        foreach (var (k, v) in settings)
        {
            builder.UseSetting(k, v);
        }

        builder.ConfigureTestServices(s =>
        {
            s.RemoveAll<TimeProvider>();
            s.AddSingleton<TimeProvider>(Time);
        });
    }
}

public abstract class ServerFixture : IAsyncLifetime
{
    public const string AdminToken = "test-admin-token-0123456789abcdef";
    private readonly List<TiakiFactory> _factories = [];
    private HttpClient? _admin;

    public string DataDir { get; } = Directory.CreateTempSubdirectory("tiaki-server-test-").FullName;
    public string DatabaseUrl { get; private set; } = "";
    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);
    public TiakiFactory Factory => _factories[0];
    public abstract bool IsPostgres { get; }

    /// <summary>Settings every server of this fixture starts with; tests may add their own.</summary>
    protected virtual Dictionary<string, string?> Settings() => new()
    {
        ["ADMIN_TOKEN"] = AdminToken,
        ["DATABASE_URL"] = DatabaseUrl,
        ["TIAKI_DATA_DIR"] = DataDir,
        ["SCAN_INTERVAL"] = "*/5 * * * *",
        ["RUN_SCHEDULER"] = "false",
        ["MAX_BODY_BYTES"] = (1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["PORT"] = "0",
    };

    protected abstract Task<string> CreateDatabaseAsync();

    protected abstract Task DropDatabaseAsync();

    public async Task InitializeAsync()
    {
        DatabaseUrl = await CreateDatabaseAsync();
        var f = StartServer(Settings(), Time);
        _ = f.Server; // start now: migrations run here
    }

    /// <summary>Another replica on the same database (and the same clock).</summary>
    public TiakiFactory StartReplica() => StartServer(Settings(), Time);

    public TiakiFactory StartServer(Dictionary<string, string?> settings, FakeTimeProvider time)
    {
        var f = new TiakiFactory(settings, time);
        _factories.Add(f);
        _ = f.Server;
        return f;
    }

    public HttpClient Anonymous() => Factory.CreateClient();

    public async Task<HttpClient> AdminAsync()
    {
        if (_admin is not null)
        {
            return _admin;
        }

        var client = Factory.CreateClient();
        var login = await client.PostAsJsonAsync("/api/v1/auth/login", new { token = AdminToken });
        login.EnsureSuccessStatusCode();
        var body = await login.Content.ReadFromJsonAsync<LoginBody>();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", body!.AccessToken);
        return _admin = client;
    }

    /// <summary>An agent created through the admin API, and a client that authenticates as it.</summary>
    public async Task<(string AgentId, string ApiKey, HttpClient Client)> NewAgentAsync(string name = "agent", string type = "vm")
    {
        var admin = await AdminAsync();
        var res = await admin.PostAsJsonAsync("/api/v1/admin/agents", new { name, type });
        res.StatusCode.ShouldBe(System.Net.HttpStatusCode.Created);
        var created = (await res.Content.ReadFromJsonAsync<RegisterAgentResponse>())!;
        return (created.AgentId, created.ApiKey, AgentClient(created.ApiKey));
    }

    public HttpClient AgentClient(string apiKey, TiakiFactory? factory = null)
    {
        var c = (factory ?? Factory).CreateClient();
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return c;
    }

    public async Task DisposeAsync()
    {
        foreach (var f in _factories)
        {
            await f.DisposeAsync();
        }

        await DropDatabaseAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed record LoginBody(string AccessToken, DateTimeOffset ExpiresAt);
}

public class SqliteFixture : ServerFixture
{
    public override bool IsPostgres => false;

    protected override Task<string> CreateDatabaseAsync() => Task.FromResult($"Data Source={Path.Combine(DataDir, "tiaki.db")}");

    protected override Task DropDatabaseAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return Task.CompletedTask;
    }
}

/// <summary>A fresh database on the shared test PostgreSQL per fixture, dropped afterwards.</summary>
public class PostgresFixture : ServerFixture
{
    private readonly string _name = $"tiaki_server_{Guid.NewGuid():N}"[..32];

    public override bool IsPostgres => true;

    internal static string Admin => TestEnvironment.Require("TIAKI_TEST_POSTGRES");

    protected override async Task<string> CreateDatabaseAsync()
    {
        await using var conn = new NpgsqlConnection(Admin);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{_name}\"", conn);
        await cmd.ExecuteNonQueryAsync();
        // The original's DATABASE_URL form, as users write it.
        var b = new NpgsqlConnectionStringBuilder(Admin);
        return $"postgresql://{Uri.EscapeDataString(b.Username!)}:{Uri.EscapeDataString(b.Password!)}@{b.Host}:{b.Port}/{_name}";
    }

    protected override async Task DropDatabaseAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var conn = new NpgsqlConnection(Admin);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)", conn);
        await cmd.ExecuteNonQueryAsync();
    }
}

/// <summary>Fixtures whose servers run the SCAN_INTERVAL scheduler (off elsewhere, so scans do not appear in other tests).</summary>
public sealed class SqliteSchedulerFixture : SqliteFixture
{
    protected override Dictionary<string, string?> Settings()
    {
        var s = base.Settings();
        s["RUN_SCHEDULER"] = "true";
        return s;
    }
}

public sealed class PostgresSchedulerFixture : PostgresFixture
{
    protected override Dictionary<string, string?> Settings()
    {
        var s = base.Settings();
        s["RUN_SCHEDULER"] = "true";
        return s;
    }
}
