using System.Net;
using Npgsql;

namespace Tiaki.Server.Tests.Api;

/// <summary>/readyz reflects whether the database answers.</summary>
public sealed class ReadinessTests(PostgresFixture f) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task Readyz_DatabaseGone_Returns503Problem()
    {
        (await f.Anonymous().GetAsync("/readyz")).StatusCode.ShouldBe(HttpStatusCode.OK);
        var database = new NpgsqlConnectionStringBuilder { ConnectionString = ToConnectionString(f.DatabaseUrl) }.Database;

        NpgsqlConnection.ClearAllPools();
        await using (var conn = new NpgsqlConnection(PostgresFixture.Admin))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"DROP DATABASE \"{database}\" WITH (FORCE)", conn);
            await cmd.ExecuteNonQueryAsync();
        }

        var problem = await (await f.Anonymous().GetAsync("/readyz")).ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);
        problem.GetProperty("detail").GetString()!.ShouldContain("database");
        (await f.Anonymous().GetAsync("/healthz")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    private static string ToConnectionString(string url)
    {
        var uri = new Uri(url);
        return $"Database={uri.AbsolutePath.TrimStart('/')}";
    }
}
