using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tiaki.Server.Configuration;
using Tiaki.Server.Data;

namespace Tiaki.Server.Features.Auth;

/// <summary>
/// Remembers keys that passed argon2 recently, so a busy agent pays argon2 once per TTL. The entry is bound to the
/// stored hash, and the agent row is still looked up on every request: deleting an agent revokes its key at once,
/// on every replica.
/// </summary>
internal sealed class ApiKeyVerifier(TimeProvider time, IOptions<TiakiOptions> options)
{
    private readonly ConcurrentDictionary<string, (byte[] KeyDigest, string StoredHash, DateTimeOffset Until)> _verified = new(StringComparer.Ordinal);

    public bool Verify(string prefix, string storedHash, string presented)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var now = time.GetUtcNow();
        if (_verified.TryGetValue(prefix, out var hit) && hit.Until > now &&
            string.Equals(hit.StoredHash, storedHash, StringComparison.Ordinal) &&
            CryptographicOperations.FixedTimeEquals(hit.KeyDigest, digest))
        {
            return true;
        }

        if (!SecretHasher.Verify(storedHash, presented))
        {
            return false;
        }

        if (options.Value.ApiKeyCacheTtl > TimeSpan.Zero)
        {
            _verified[prefix] = (digest, storedHash, now + options.Value.ApiKeyCacheTtl);
        }

        return true;
    }

    public void Forget(string prefix) => _verified.TryRemove(prefix, out _);
}

internal sealed class AgentKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    TiakiDbContext db,
    ApiKeyVerifier verifier) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "AgentKey";
    public const string AgentIdClaim = "agent_id";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!TryGetBearer(Request, out var bearer) || !PrefixedSecret.TryParse(PrefixedSecret.AgentKeyKind, bearer, out var key))
        {
            return AuthenticateResult.NoResult();
        }

        var agent = await db.Agents.AsNoTracking()
            .Where(a => a.KeyPrefix == key.Prefix)
            .Select(a => new { a.Id, a.KeyHash })
            .FirstOrDefaultAsync(Context.RequestAborted);
        if (agent is null || !verifier.Verify(key.Prefix, agent.KeyHash, key.Value))
        {
            return AuthenticateResult.Fail("invalid API key");
        }

        var identity = new ClaimsIdentity([new Claim(AgentIdClaim, agent.Id)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    public static bool TryGetBearer(HttpRequest request, out string token)
    {
        token = "";
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        token = header["Bearer ".Length..].Trim();
        return token.Length > 0;
    }
}

internal static class AgentPrincipal
{
    public static string AgentId(this ClaimsPrincipal user) =>
        user.FindFirstValue(AgentKeyAuthenticationHandler.AgentIdClaim) ?? throw new InvalidOperationException("not an agent principal");
}
