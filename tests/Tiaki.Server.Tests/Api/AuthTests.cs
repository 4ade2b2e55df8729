using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Tiaki.Server.Tests.Api;

public sealed class AuthTests_Sqlite(SqliteFixture f) : AuthTests(f), IClassFixture<SqliteFixture>;

public sealed class AuthTests_Postgres(PostgresFixture f) : AuthTests(f), IClassFixture<PostgresFixture>;

/// <summary>Admin login: JWT, wrong token, throttling, expiry. Its own fixture, since it moves the clock and trips the throttle.</summary>
public abstract class AuthTests(ServerFixture f)
{
    private Task<HttpResponseMessage> LoginAsync(string token) => f.Anonymous().PostAsJsonAsync("/api/v1/auth/login", new { token });

    [Fact]
    public async Task Login_RightToken_ReturnsJwtThatOpensAdminApi_UntilItExpires()
    {
        var res = await LoginAsync(ServerFixture.AdminToken);
        res.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await res.JsonAsync();
        body.GetProperty("expiresAt").GetDateTimeOffset().ShouldBe(f.Time.GetUtcNow().AddHours(12), TimeSpan.FromSeconds(1));
        var client = f.Anonymous();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", body.GetProperty("accessToken").GetString());
        (await client.GetAsync("/api/v1/admin/agents")).StatusCode.ShouldBe(HttpStatusCode.OK);

        f.Time.Advance(TimeSpan.FromHours(12) + TimeSpan.FromSeconds(1));

        (await client.GetAsync("/api/v1/admin/agents")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Login_WrongToken_Returns401()
    {
        await (await LoginAsync("not-the-admin-token")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Login_RepeatedFailures_Returns429_EvenForTheRightToken_UntilTheWindowPasses()
    {
        HttpResponseMessage last = new();
        for (var i = 0; i < 10 && last.StatusCode != HttpStatusCode.TooManyRequests; i++)
        {
            last = await LoginAsync("guess-" + i);
        }

        await last.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
        last.Headers.RetryAfter.ShouldNotBeNull();
        (await LoginAsync(ServerFixture.AdminToken)).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);

        f.Time.Advance(TimeSpan.FromMinutes(6));

        (await LoginAsync(ServerFixture.AdminToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Login_MissingToken_Returns400NamingToken()
    {
        var problem = await (await f.Anonymous().PostAsJsonAsync("/api/v1/auth/login", new { })).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        problem.GetProperty("errors").TryGetProperty("token", out _).ShouldBeTrue();
    }
}
