using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tiaki.Testing.Registry;

/// <summary>
/// A Docker token service (the OAuth2-ish one registries point to in their Bearer challenge): signs
/// RS256 JWTs with an x5c header of a self-signed certificate the registry trusts. Counts requests per scope.
/// </summary>
public sealed class TokenServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly RSA _key;
    private readonly X509Certificate2 _certificate;
    private readonly string _dir;
    private readonly Dictionary<string, string> _users;

    public string Service => "tiaki-test-registry";
    public string Issuer => "tiaki-test-issuer";
    public string Realm { get; private set; } = "";
    public string CertificatePath => Path.Combine(_dir, "cert.pem");
    public bool AllowAnonymousPull { get; set; } = true;
    public int ExpiresInSeconds { get; set; } = 300;
    public TimeSpan Delay { get; set; } = TimeSpan.Zero;
    public ConcurrentDictionary<string, int> RequestsByScope { get; } = new();
    public ConcurrentQueue<string?> SeenAuthorization { get; } = new();
    /// <summary>Refresh tokens (docker identitytoken) accepted by the OAuth2 POST flow, and the user each stands for.</summary>
    public ConcurrentDictionary<string, string> RefreshTokens { get; } = new();
    private int _refreshGrants;
    public int RefreshGrants => _refreshGrants;
    public int TotalRequests => RequestsByScope.Values.Sum();

    private TokenServer(Dictionary<string, string> users)
    {
        _users = users;
        _dir = Directory.CreateTempSubdirectory("tiaki-token-").FullName;
        _key = RSA.Create(2048);
        var request = new CertificateRequest("CN=tiaki-test-token", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(CertificatePath, _certificate.ExportCertificatePem());

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapGet("/token", async context => await (await Issue(context)).ExecuteAsync(context));
        _app.MapPost("/token", async context => await (await IssueForRefreshToken(context)).ExecuteAsync(context));
    }

    public static async Task<TokenServer> StartAsync(Dictionary<string, string>? users = null)
    {
        var server = new TokenServer(users ?? []);
        await server._app.StartAsync();
        server.Realm = server._app.Urls.First().TrimEnd('/') + "/token";
        return server;
    }

    /// <summary>A push+pull token for tests that upload images.</summary>
    public string Mint(string repository) => Sign(repository, ["pull", "push", "delete"]);

    private async Task<IResult> Issue(HttpContext context)
    {
        if (Delay > TimeSpan.Zero) await Task.Delay(Delay);
        var scope = context.Request.Query["scope"].ToString();
        RequestsByScope.AddOrUpdate(scope, 1, (_, n) => n + 1);
        var authorization = context.Request.Headers.Authorization.ToString();
        SeenAuthorization.Enqueue(authorization.Length == 0 ? null : authorization);

        var user = "";
        if (authorization.Length > 0)
        {
            var header = AuthenticationHeaderValue.Parse(authorization);
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter ?? "")).Split(':', 2);
            if (pair.Length != 2 || !_users.TryGetValue(pair[0], out var password) || password != pair[1])
                return Results.Unauthorized();
            user = pair[0];
        }
        else if (!AllowAnonymousPull)
        {
            return Results.Unauthorized();
        }

        var parts = scope.Split(':');
        var token = parts.Length == 3 ? Sign(parts[1], ["pull"], user) : Sign("", [], user);
        return Results.Json(new Dictionary<string, object> { ["token"] = token, ["expires_in"] = ExpiresInSeconds, ["issued_at"] = DateTimeOffset.UtcNow.ToString("O") });
    }

    private async Task<IResult> IssueForRefreshToken(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync();
        var scope = form["scope"].ToString();
        RequestsByScope.AddOrUpdate(scope, 1, (_, n) => n + 1);
        if (form["grant_type"] != "refresh_token" || !RefreshTokens.TryGetValue(form["refresh_token"].ToString(), out var user) || form["service"] != Service)
            return Results.Unauthorized();
        Interlocked.Increment(ref _refreshGrants);
        var parts = scope.Split(':');
        return Results.Json(new Dictionary<string, object> { ["access_token"] = Sign(parts.Length == 3 ? parts[1] : "", ["pull"], user), ["expires_in"] = ExpiresInSeconds });
    }

    private string Sign(string repository, string[] actions, string subject = "test")
    {
        var header = new Dictionary<string, object> { ["alg"] = "RS256", ["typ"] = "JWT", ["x5c"] = new[] { Convert.ToBase64String(_certificate.RawData) } };
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var access = repository.Length == 0 ? Array.Empty<object>() : [new Dictionary<string, object> { ["type"] = "repository", ["name"] = repository, ["actions"] = actions }];
        var claims = new Dictionary<string, object>
        {
            ["iss"] = Issuer, ["sub"] = subject, ["aud"] = Service, ["exp"] = now + ExpiresInSeconds, ["nbf"] = now - 10, ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"), ["access"] = access,
        };
        var signingInput = B64(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + B64(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + B64(signature);
    }

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _certificate.Dispose();
        _key.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
