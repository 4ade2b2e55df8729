using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.Extensions.Options;
using Tiaki.Server.Configuration;

namespace Tiaki.Server.Data;

internal static class DataServiceCollectionExtensions
{
    public static IServiceCollection AddTiakiData(this IServiceCollection services)
    {
        // Both contexts are registered; the configured provider decides which one TiakiDbContext resolves to.
        // The options lambda of the other one never runs.
        services.AddDbContextPool<SqliteTiakiDbContext>((sp, b) =>
            b.UseSqlite(sp.GetRequiredService<IOptions<TiakiOptions>>().Value.Database.ConnectionString,
                x => x.CommandTimeout(30)).AddInterceptors(SqlitePragmas.Instance));
        services.AddDbContextPool<PostgresTiakiDbContext>((sp, b) =>
            b.UseNpgsql(sp.GetRequiredService<IOptions<TiakiOptions>>().Value.Database.ConnectionString));
        services.AddScoped<TiakiDbContext>(sp =>
            sp.GetRequiredService<IOptions<TiakiOptions>>().Value.Database.IsPostgres
                ? sp.GetRequiredService<PostgresTiakiDbContext>()
                : sp.GetRequiredService<SqliteTiakiDbContext>());
        services.AddHostedService<DatabaseMigrator>();
        return services;
    }
}

/// <summary>
/// With WAL, synchronous=NORMAL is the documented safe pairing (no corruption; a power cut may lose the last commits,
/// which agents resend with their next report) and avoids an fsync per report.
/// </summary>
internal sealed class SqlitePragmas : Microsoft.EntityFrameworkCore.Diagnostics.DbConnectionInterceptor
{
    public static readonly SqlitePragmas Instance = new();

    public override async Task ConnectionOpenedAsync(System.Data.Common.DbConnection connection,
        Microsoft.EntityFrameworkCore.Diagnostics.ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;";
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public override void ConnectionOpened(System.Data.Common.DbConnection connection, Microsoft.EntityFrameworkCore.Diagnostics.ConnectionEndEventData eventData)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;";
        cmd.ExecuteNonQuery();
    }
}

/// <summary>Applies pending migrations before anything else starts (it is registered as the first hosted service).</summary>
internal sealed partial class DatabaseMigrator(IServiceScopeFactory scopes, IOptions<TiakiOptions> options, ILogger<DatabaseMigrator> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.Database.IsPostgres)
        {
            var b = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(o.Database.ConnectionString);
            if (Path.GetDirectoryName(Path.GetFullPath(b.DataSource)) is { } dir)
            {
                Directory.CreateDirectory(dir);
            }
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TiakiDbContext>();
        await db.Database.MigrateAsync(cancellationToken);
        if (!db.IsPostgres)
        {
            // WAL lets readers (long-polls) run beside the writer (report ingest); it is stored in the file.
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }

        LogMigrated(db.IsPostgres ? "PostgreSQL" : "SQLite");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(1, LogLevel.Information, "Database schema up to date ({Provider})")]
    private partial void LogMigrated(string provider);
}

// Design-time factories for `dotnet ef migrations add --context ...`; the connection strings are never used to connect.
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteTiakiDbContext>
{
    public SqliteTiakiDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteTiakiDbContext>().UseSqlite("Data Source=design.db").Options);
}

internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresTiakiDbContext>
{
    public PostgresTiakiDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresTiakiDbContext>().UseNpgsql("Host=localhost;Database=design").Options);
}
