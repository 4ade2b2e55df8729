using System.Globalization;
using Cronos;
using Microsoft.Extensions.Options;

namespace Tiaki.Server.Configuration;

/// <summary>
/// Server settings under the names users already know from the original (ADMIN_TOKEN, DATABASE_URL, ...).
/// Parsed by <see cref="TiakiOptionsSetup"/>, which records every bad key so start-up can name them all at once.
/// </summary>
internal sealed class TiakiOptions
{
    public string? AdminToken { get; set; }
    public DatabaseSettings Database { get; set; } = DatabaseSettings.Sqlite("Data Source=data/tiaki.db");
    public string ScanIntervalCron { get; set; } = "0 */6 * * *";
    public CronExpression ScanInterval { get; set; } = CronExpression.Parse("0 */6 * * *");
    public int Port { get; set; } = 3001;
    public string DataDir { get; set; } = "./data";
    public long MaxBodyBytes { get; set; } = 10 * 1024 * 1024;
    public TimeSpan CommandLease { get; set; } = TimeSpan.FromMinutes(2);
    public int CommandMaxDeliveries { get; set; } = 5;
    public TimeSpan JwtLifetime { get; set; } = TimeSpan.FromHours(12);
    public string? JwtSigningKey { get; set; }
    public int LoginMaxFailures { get; set; } = 5;
    public TimeSpan LoginFailureWindow { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan ApiKeyCacheTtl { get; set; } = TimeSpan.FromMinutes(5);
    public bool RunScheduler { get; set; } = true;

    internal List<string> Errors { get; } = [];

    /// <summary>Agents not seen for three scan intervals count as offline.</summary>
    public TimeSpan OfflineAfter(DateTimeOffset now)
    {
        var first = ScanInterval.GetNextOccurrence(now, TimeZoneInfo.Utc);
        var second = first is { } f ? ScanInterval.GetNextOccurrence(f, TimeZoneInfo.Utc) : null;
        var interval = first is { } a && second is { } b ? b - a : TimeSpan.FromHours(6);
        return interval * 3;
    }
}

internal sealed record DatabaseSettings(bool IsPostgres, string ConnectionString)
{
    public static DatabaseSettings Sqlite(string cs) => new(false, cs);
    public static DatabaseSettings Postgres(string cs) => new(true, cs);
}

internal sealed class TiakiOptionsSetup(IConfiguration configuration) : IConfigureOptions<TiakiOptions>
{
    public void Configure(TiakiOptions o)
    {
        string? Get(string key) => configuration[key] is { Length: > 0 } v ? v : null;

        o.AdminToken = Get("ADMIN_TOKEN");
        if (o.AdminToken is { Length: < 16 })
        {
            o.Errors.Add("ADMIN_TOKEN: must be at least 16 characters");
        }

        o.DataDir = Get("TIAKI_DATA_DIR") ?? "./data";
        o.JwtSigningKey = Get("JWT_SIGNING_KEY");
        if (o.JwtSigningKey is { Length: < 32 })
        {
            o.Errors.Add("JWT_SIGNING_KEY: must be at least 32 characters");
        }

        var dbUrl = Get("DATABASE_URL");
        if (dbUrl is null)
        {
            o.Database = DatabaseSettings.Sqlite($"Data Source={Path.Combine(o.DataDir, "tiaki.db")}");
        }
        else if (DatabaseUrl.TryParse(dbUrl, out var db, out var why))
        {
            o.Database = db;
        }
        else
        {
            o.Errors.Add($"DATABASE_URL: {why}");
        }

        if (Get("SCAN_INTERVAL") is { } cron)
        {
            try
            {
                o.ScanInterval = CronExpression.Parse(cron);
                o.ScanIntervalCron = cron;
            }
            catch (CronFormatException)
            {
                o.Errors.Add("SCAN_INTERVAL: not a cron expression with five fields (e.g. '0 */6 * * *')");
            }
        }

        o.Port = Int("PORT", o.Port, 0, 65535); // 0: any free port
        o.MaxBodyBytes = Int("MAX_BODY_BYTES", (int)o.MaxBodyBytes, 1024, int.MaxValue);
        o.CommandLease = TimeSpan.FromSeconds(Int("COMMAND_LEASE_SECONDS", (int)o.CommandLease.TotalSeconds, 1, 86400));
        o.CommandMaxDeliveries = Int("COMMAND_MAX_DELIVERIES", o.CommandMaxDeliveries, 1, 1000);
        o.JwtLifetime = TimeSpan.FromMinutes(Int("JWT_LIFETIME_MINUTES", (int)o.JwtLifetime.TotalMinutes, 1, 525600));
        o.LoginMaxFailures = Int("LOGIN_MAX_FAILURES", o.LoginMaxFailures, 1, 10000);
        o.LoginFailureWindow = TimeSpan.FromSeconds(Int("LOGIN_FAILURE_WINDOW_SECONDS", (int)o.LoginFailureWindow.TotalSeconds, 1, 86400));
        o.ApiKeyCacheTtl = TimeSpan.FromSeconds(Int("API_KEY_CACHE_SECONDS", (int)o.ApiKeyCacheTtl.TotalSeconds, 0, 86400));
        if (Get("RUN_SCHEDULER") is { } rs)
        {
            if (bool.TryParse(rs, out var b))
            {
                o.RunScheduler = b;
            }
            else
            {
                o.Errors.Add("RUN_SCHEDULER: must be true or false");
            }
        }

        int Int(string key, int fallback, int min, int max) => Settings.Int(Get(key), key, fallback, min, max, o.Errors);
    }
}

internal sealed class TiakiOptionsValidator : IValidateOptions<TiakiOptions>
{
    public ValidateOptionsResult Validate(string? name, TiakiOptions options) =>
        options.Errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(options.Errors);
}

internal static class DatabaseUrl
{
    /// <summary>Accepts the original's <c>postgresql://user:pass@host:port/db</c> form or an Npgsql/SQLite connection string.</summary>
    public static bool TryParse(string value, out DatabaseSettings settings, out string? error)
    {
        settings = DatabaseSettings.Sqlite("");
        error = null;
        if (value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
            value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            {
                error = "not a valid postgresql://user:pass@host:port/db URL";
                return false;
            }

            var db = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
            if (db.Length == 0)
            {
                error = "the URL names no database (postgresql://user:pass@host:port/DATABASE)";
                return false;
            }

            var b = new Npgsql.NpgsqlConnectionStringBuilder
            {
                Host = uri.Host,
                Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
                Database = db,
            };
            var userInfo = uri.UserInfo.Split(':', 2);
            if (userInfo[0].Length > 0)
            {
                b.Username = Uri.UnescapeDataString(userInfo[0]);
            }

            if (userInfo.Length > 1)
            {
                b.Password = Uri.UnescapeDataString(userInfo[1]);
            }

            foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = pair.Split('=', 2);
                if (kv[0].Equals("sslmode", StringComparison.OrdinalIgnoreCase) && kv.Length == 2 &&
                    Enum.TryParse<Npgsql.SslMode>(kv[1], ignoreCase: true, out var mode))
                {
                    b.SslMode = mode;
                }
            }

            settings = DatabaseSettings.Postgres(b.ConnectionString);
            return true;
        }

        if (value.Contains("Host=", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                settings = DatabaseSettings.Postgres(new Npgsql.NpgsqlConnectionStringBuilder(value).ConnectionString);
                return true;
            }
            catch (ArgumentException)
            {
                error = "not a valid Npgsql connection string";
                return false;
            }
        }

        if (value.StartsWith("Data Source=", StringComparison.OrdinalIgnoreCase))
        {
            settings = DatabaseSettings.Sqlite(value);
            return true;
        }

        error = "expected postgresql://user:pass@host:port/db, an Npgsql connection string (Host=...), or a SQLite 'Data Source=...'";
        return false;
    }
}
