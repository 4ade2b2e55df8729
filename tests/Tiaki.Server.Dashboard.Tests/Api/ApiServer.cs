using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using Tiaki.Contracts;

namespace Tiaki.Server.Dashboard.Tests.Api;

/// <summary>The server in-process on SQLite or on a fresh database of the shared test PostgreSQL; one or more replicas.</summary>
public abstract class ApiServer : IAsyncLifetime
{
    public const string AdminToken = "dash-api-admin-token-0123456789ab";
    private readonly List<WebApplicationFactory<Program>> _replicas = [];
    protected string DataDir { get; } = Directory.CreateTempSubdirectory("tiaki-dashboard-api-").FullName;
    public string DatabaseUrl { get; private set; } = "";

    public abstract bool IsPostgres { get; }

    protected abstract Task<string> CreateDatabaseAsync();

    protected abstract Task DropDatabaseAsync();

    public async Task InitializeAsync()
    {
        DatabaseUrl = await CreateDatabaseAsync();
        _ = Replica(0);
    }

    /// <summary>Replica n of the server (0 is the default one), all on the same database.</summary>
    public WebApplicationFactory<Program> Replica(int n)
    {
        while (_replicas.Count <= n)
        {
            var dir = Directory.CreateDirectory(Path.Combine(DataDir, $"replica{_replicas.Count}")).FullName;
            var f = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
            {
                b.UseEnvironment("Production");
                b.UseSetting("ADMIN_TOKEN", AdminToken);
                b.UseSetting("JWT_SIGNING_KEY", "dash-api-jwt-signing-key-0123456789abcdef");
                b.UseSetting("DATABASE_URL", DatabaseUrl);
                b.UseSetting("TIAKI_DATA_DIR", dir);
                b.UseSetting("RUN_SCHEDULER", "false");
            });
            _ = f.Server;
            _replicas.Add(f);
        }

        return _replicas[n];
    }

    public async Task<HttpClient> AdminAsync(int replica = 0)
    {
        var client = Replica(replica).CreateClient();
        var login = await client.PostAsJsonAsync("/api/v1/auth/login", new { token = AdminToken });
        login.EnsureSuccessStatusCode();
        var jwt = (await login.Content.ReadFromJsonAsync<Jwt>())!.AccessToken;
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", jwt);
        return client;
    }

    public async Task<(string Id, HttpClient Client)> AgentAsync(string name, int replica = 0)
    {
        using var admin = await AdminAsync(replica);
        var res = await admin.PostAsJsonAsync("/api/v1/admin/agents", new { name, type = "vm" });
        res.EnsureSuccessStatusCode();
        var created = (await res.Content.ReadFromJsonAsync<RegisterAgentResponse>())!;
        var client = Replica(replica).CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", created.ApiKey);
        return (created.AgentId, client);
    }

    public async Task DisposeAsync()
    {
        foreach (var r in _replicas)
        {
            await r.DisposeAsync();
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

    private sealed record Jwt(string AccessToken);
}

public sealed class SqliteApiServer : ApiServer
{
    public override bool IsPostgres => false;

    protected override Task<string> CreateDatabaseAsync() => Task.FromResult($"Data Source={Path.Combine(DataDir, "tiaki.db")}");

    protected override Task DropDatabaseAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return Task.CompletedTask;
    }
}

/// <summary>A fresh database on the shared test PostgreSQL (TIAKI_TEST_POSTGRES), dropped afterwards.</summary>
public sealed class PostgresApiServer : ApiServer
{
    private readonly string _name = $"tiaki_dash_{Guid.NewGuid():N}"[..30];

    public override bool IsPostgres => true;

    private static string Admin() =>
        Environment.GetEnvironmentVariable("TIAKI_TEST_POSTGRES") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException("TIAKI_TEST_POSTGRES is not set: run the tests through ./scripts/test.sh, which starts PostgreSQL.");

    protected override async Task<string> CreateDatabaseAsync()
    {
        await using var conn = new NpgsqlConnection(Admin());
        await conn.OpenAsync();
        await using (var cmd = new NpgsqlCommand($"CREATE DATABASE {_name}", conn))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(Admin()) { Database = _name }.ConnectionString;
    }

    protected override async Task DropDatabaseAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var conn = new NpgsqlConnection(Admin());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)", conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
