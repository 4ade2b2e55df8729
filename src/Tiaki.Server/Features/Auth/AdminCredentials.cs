using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tiaki.Server.Configuration;

namespace Tiaki.Server.Features.Auth;

internal sealed record LoginResponse(string AccessToken, DateTimeOffset ExpiresAt);

internal enum LoginOutcome { Success, WrongToken, Throttled }

/// <summary>The admin token and the JWT signing key: from configuration, else generated once and kept in the data dir.</summary>
internal sealed class AdminCredentials
{
    public const string Issuer = "tiaki";
    public const string Audience = "tiaki-admin";
    private const string TokenFile = "admin-token";
    private const string KeyFile = "jwt-signing-key";

    private readonly Lazy<string> _adminToken;
    private readonly Lazy<SymmetricSecurityKey> _signingKey;

    public AdminCredentials(IOptions<TiakiOptions> options, DataDirSecrets secrets)
    {
        _adminToken = new(() =>
        {
            if (options.Value.AdminToken is { } configured)
            {
                return configured;
            }

            var token = secrets.GetOrCreate(TokenFile, () => PrefixedSecret.Base64Url(RandomNumberGenerator.GetBytes(24)), out var created);
            if (created)
            {
                // Printed once, on the console only (never through the logger), so the first README command works.
                Console.WriteLine($"Tiaki admin token (kept in {Path.Combine(options.Value.DataDir, TokenFile)}): {token}");
            }

            return token;
        });
        _signingKey = new(() =>
        {
            var raw = options.Value.JwtSigningKey
                ?? secrets.GetOrCreate(KeyFile, () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(64)), out _);
            return new SymmetricSecurityKey(SHA256.HashData(Encoding.UTF8.GetBytes(raw))) { KeyId = "tiaki" };
        });
    }

    public SymmetricSecurityKey SigningKey => _signingKey.Value;

    public bool IsAdminToken(string presented) => SecretHasher.FixedTimeEquals(presented, _adminToken.Value);

    /// <summary>Generates (and prints) the admin token at start rather than at the first login.</summary>
    public void EnsureCreated() => _ = (_adminToken.Value, _signingKey.Value);
}

internal sealed class AdminTokenBootstrap(AdminCredentials credentials) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        credentials.EnsureCreated();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Counts failed logins per client address within a sliding window.</summary>
internal sealed class LoginThrottle(TimeProvider time, IOptions<TiakiOptions> options)
{
    private readonly Dictionary<string, List<DateTimeOffset>> _failures = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public bool IsBlocked(string client, out TimeSpan retryAfter)
    {
        lock (_gate)
        {
            retryAfter = TimeSpan.Zero;
            if (!_failures.TryGetValue(client, out var list))
            {
                return false;
            }

            Prune(list);
            if (list.Count < options.Value.LoginMaxFailures)
            {
                return false;
            }

            retryAfter = list[0] + options.Value.LoginFailureWindow - time.GetUtcNow();
            return true;
        }
    }

    public void RecordFailure(string client)
    {
        lock (_gate)
        {
            if (!_failures.TryGetValue(client, out var list))
            {
                // Bound memory under a spray of addresses: forget the oldest client.
                if (_failures.Count > 10_000)
                {
                    _failures.Remove(_failures.Keys.First());
                }

                _failures[client] = list = [];
            }

            Prune(list);
            list.Add(time.GetUtcNow());
        }
    }

    public void Reset(string client)
    {
        lock (_gate)
        {
            _failures.Remove(client);
        }
    }

    private void Prune(List<DateTimeOffset> list)
    {
        var cutoff = time.GetUtcNow() - options.Value.LoginFailureWindow;
        list.RemoveAll(t => t <= cutoff);
    }
}

internal sealed partial class AdminLoginService(
    AdminCredentials credentials,
    LoginThrottle throttle,
    TimeProvider time,
    IOptions<TiakiOptions> options,
    ILogger<AdminLoginService> logger)
{
    public (LoginOutcome Outcome, LoginResponse? Response, TimeSpan RetryAfter) Login(string token, string client)
    {
        if (throttle.IsBlocked(client, out var retry))
        {
            LogThrottled(client);
            return (LoginOutcome.Throttled, null, retry);
        }

        if (!credentials.IsAdminToken(token))
        {
            throttle.RecordFailure(client);
            LogFailed(client);
            return (LoginOutcome.WrongToken, null, TimeSpan.Zero);
        }

        throttle.Reset(client);
        var now = time.GetUtcNow();
        var expires = now + options.Value.JwtLifetime;
        var jwt = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = AdminCredentials.Issuer,
            Audience = AdminCredentials.Audience,
            Subject = new ClaimsIdentity([new Claim("sub", "admin"), new Claim("role", "admin")]),
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            SigningCredentials = new SigningCredentials(credentials.SigningKey, SecurityAlgorithms.HmacSha256),
        });
        return (LoginOutcome.Success, new LoginResponse(jwt, expires), TimeSpan.Zero);
    }

    [LoggerMessage(10, LogLevel.Warning, "Failed admin login from {Client}")]
    private partial void LogFailed(string client);

    [LoggerMessage(11, LogLevel.Warning, "Admin login from {Client} refused: too many failures")]
    private partial void LogThrottled(string client);
}
