using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Time.Testing;

namespace Tiaki.Server.Tests.Api;

/// <summary>Start-up: every bad setting named at once; a generated admin token on first run.</summary>
public sealed class ConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tiaki-config-test-").FullName;

    [Fact]
    public void Start_WithBadSettings_FailsNamingEveryBadKey()
    {
        using var factory = new TiakiFactory(new Dictionary<string, string?>
        {
            ["TIAKI_DATA_DIR"] = _dir,
            ["PORT"] = "eighty",
            ["SCAN_INTERVAL"] = "every day",
            ["DATABASE_URL"] = "mysql://root:hunter2secret@db/tiaki",
            ["MAX_BODY_BYTES"] = "-5",
            ["ADMIN_TOKEN"] = "short",
        }, new FakeTimeProvider());

        var ex = Should.Throw<Exception>(() => _ = factory.Server);

        var message = ex.ToString();
        foreach (var key in new[] { "PORT", "SCAN_INTERVAL", "DATABASE_URL", "MAX_BODY_BYTES", "ADMIN_TOKEN" })
        {
            message.ShouldContain(key + ":");
        }

        message.ShouldNotContain("hunter2secret");
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Start_WithoutAdminToken_GeneratesOneKeptInDataDirWithMode600()
    {
        var settings = new Dictionary<string, string?> { ["TIAKI_DATA_DIR"] = _dir, ["RUN_SCHEDULER"] = "false" };
        string token;
        await using (var first = new TiakiFactory(settings, new FakeTimeProvider(DateTimeOffset.UtcNow)))
        {
            _ = first.Server;
            var file = Path.Combine(_dir, "admin-token");
            token = (await File.ReadAllTextAsync(file)).Trim();
            token.Length.ShouldBeGreaterThanOrEqualTo(24);
            File.GetUnixFileMode(file).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.GetUnixFileMode(Path.Combine(_dir, "jwt-signing-key")).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.Exists(Path.Combine(_dir, "tiaki.db")).ShouldBeTrue();
        }

        // A restart keeps the same token (and signing key).
        await using var second = new TiakiFactory(settings, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var login = await second.CreateClient().PostAsJsonAsync("/api/v1/auth/login", new { token });
        login.StatusCode.ShouldBe(HttpStatusCode.OK);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
