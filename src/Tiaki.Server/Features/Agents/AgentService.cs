using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tiaki.Contracts;
using Tiaki.Server.Configuration;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Audit;
using Tiaki.Server.Features.Auth;

namespace Tiaki.Server.Features.Agents;

internal sealed record CreateEnrollmentTokenRequest(int? ExpiresInMinutes = null, int? Uses = null);

internal sealed record EnrollmentTokenResponse(string Token, DateTimeOffset ExpiresAt, int Uses);

/// <summary>An enrollment token as listed: never the secret, only its public prefix.</summary>
internal sealed record EnrollmentTokenDto(string Id, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, int UsesLeft, bool Usable);

internal sealed record CreateAgentRequest(string Name, string Type, string? Description = null);

/// <remarks>Public because a (public) Razor component takes it as a parameter.</remarks>
public sealed record AgentDto(
    string Id, string Name, string Type, string? Description, DateTimeOffset CreatedAt, DateTimeOffset? LastSeenAt,
    bool Online, int Containers, int PendingUpdates);

/// <summary>A validation failure naming the field, or a value.</summary>
internal readonly record struct Checked<T>(T? Value, string? Field = null, string? Error = null)
{
    public bool Ok => Field is null;
    public static Checked<T> Invalid(string field, string error) => new(default, field, error);
}

internal sealed partial class AgentService(
    TiakiDbContext db,
    AuditLog audit,
    ApiKeyVerifier verifier,
    TimeProvider time,
    IOptions<TiakiOptions> options,
    ILogger<AgentService> logger)
{
    public async Task<Checked<EnrollmentTokenResponse>> CreateEnrollmentTokenAsync(CreateEnrollmentTokenRequest request, string actor, CancellationToken ct)
    {
        if (request.ExpiresInMinutes is < 1 or > 525_600)
        {
            return Checked<EnrollmentTokenResponse>.Invalid("expiresInMinutes", "must be from 1 to 525600");
        }

        if (request.Uses is < 1 or > 100_000)
        {
            return Checked<EnrollmentTokenResponse>.Invalid("uses", "must be from 1 to 100000");
        }

        var secret = PrefixedSecret.New(PrefixedSecret.EnrollmentKind);
        var expires = time.GetUtcNow().AddMinutes(request.ExpiresInMinutes ?? 60);
        var uses = request.Uses ?? 1;
        db.EnrollmentTokens.Add(new EnrollmentTokenEntity
        {
            Id = Guid.CreateVersion7().ToString("N"),
            Prefix = secret.Prefix,
            Hash = SecretHasher.Hash(secret.Value),
            CreatedAt = time.GetUtcNow(),
            ExpiresAt = expires,
            UsesLeft = uses,
        });
        audit.Add(actor, "enrollment-token.created", secret.Prefix, $"expires {expires:O}, uses {uses}");
        await db.SaveChangesAsync(ct);
        return new(new EnrollmentTokenResponse(secret.Value, expires, uses));
    }

    public async Task<IReadOnlyList<EnrollmentTokenDto>> ListEnrollmentTokensAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var rows = await db.EnrollmentTokens.AsNoTracking().OrderByDescending(t => t.CreatedAt).ToListAsync(ct);
        return rows.Select(t => new EnrollmentTokenDto(t.Id, t.Prefix, t.CreatedAt, t.ExpiresAt, t.UsesLeft, t.ExpiresAt > now && t.UsesLeft > 0)).ToList();
    }

    /// <summary>Deletes an enrollment token: agents can no longer register with it. False when there is no such token.</summary>
    public async Task<bool> RevokeEnrollmentTokenAsync(string id, string actor, CancellationToken ct)
    {
        var row = await db.EnrollmentTokens.FirstOrDefaultAsync(t => t.Id == id, ct);
        if (row is null)
        {
            return false;
        }

        db.EnrollmentTokens.Remove(row);
        audit.Add(actor, "enrollment-token.revoked", row.Prefix);
        await db.SaveChangesAsync(ct);
        return true;
    }

    /// <summary>Registers an agent with an enrollment token; null when the token is missing, wrong, expired or used up.</summary>
    public async Task<RegisterAgentResponse?> RegisterAsync(string? enrollmentToken, RegisterAgentRequest request, CancellationToken ct)
    {
        if (!PrefixedSecret.TryParse(PrefixedSecret.EnrollmentKind, enrollmentToken, out var token))
        {
            return null;
        }

        var now = time.GetUtcNow();
        var row = await db.EnrollmentTokens.AsNoTracking().FirstOrDefaultAsync(t => t.Prefix == token.Prefix, ct);
        if (row is null || row.ExpiresAt <= now || row.UsesLeft <= 0 || !SecretHasher.Verify(row.Hash, token.Value))
        {
            LogEnrollmentRefused(token.Prefix);
            return null;
        }

        // Spend one use atomically: concurrent registrations cannot overdraw the token.
        var spent = await db.EnrollmentTokens.Where(t => t.Id == row.Id && t.UsesLeft > 0)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsesLeft, t => t.UsesLeft - 1), ct);
        if (spent != 1)
        {
            return null;
        }

        return await CreateCoreAsync(request.Name, request.Type, request.Description, $"enrollment:{token.Prefix}", ct);
    }

    public Task<RegisterAgentResponse> CreateAsync(CreateAgentRequest request, string actor, CancellationToken ct) =>
        CreateCoreAsync(request.Name, request.Type, request.Description, actor, ct);

    public static (string Field, string Error)? Validate(string name, string type, string? description)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 200)
        {
            return ("name", "must be 1 to 200 characters");
        }

        if (type is not (AgentTypes.Vm or AgentTypes.Kubernetes))
        {
            return ("type", "must be \"vm\" or \"k8s\"");
        }

        return description is { Length: > 2000 } ? ("description", "must be at most 2000 characters") : null;
    }

    private async Task<RegisterAgentResponse> CreateCoreAsync(string name, string type, string? description, string actor, CancellationToken ct)
    {
        var key = PrefixedSecret.New(PrefixedSecret.AgentKeyKind);
        var agent = new AgentEntity
        {
            Id = Guid.CreateVersion7().ToString(),
            Name = name.Trim(),
            Type = type,
            Description = description,
            KeyPrefix = key.Prefix,
            KeyHash = SecretHasher.Hash(key.Value),
            CreatedAt = time.GetUtcNow(),
        };
        db.Agents.Add(agent);
        audit.Add(actor, "agent.registered", agent.Id, $"{agent.Name} ({type})");
        await db.SaveChangesAsync(ct);
        LogRegistered(agent.Id, agent.Name);
        return new RegisterAgentResponse(agent.Id, key.Value);
    }

    public async Task HeartbeatAsync(string agentId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await db.Agents.Where(a => a.Id == agentId).ExecuteUpdateAsync(s => s.SetProperty(a => a.LastSeenAt, now), ct);
    }

    /// <summary>Agents online and offline, by the same rule as <see cref="ListAsync"/>, without loading them.</summary>
    public async Task<(int Online, int Offline)> CountByPresenceAsync(CancellationToken ct)
    {
        var onlineSince = OnlineSince();
        var total = await db.Agents.CountAsync(ct);
        var online = await db.Agents.CountAsync(a => a.LastSeenAt > onlineSince, ct);
        return (online, total - online);
    }

    private DateTimeOffset OnlineSince()
    {
        var now = time.GetUtcNow();
        return now - options.Value.OfflineAfter(now);
    }

    public async Task<IReadOnlyList<AgentDto>> ListAsync(string? id, CancellationToken ct)
    {
        var onlineSince = OnlineSince();
        var q = db.Agents.AsNoTracking();
        if (id is not null)
        {
            q = q.Where(a => a.Id == id);
        }

        var rows = await q.OrderBy(a => a.Name)
            .Select(a => new
            {
                Agent = a,
                Containers = db.Containers.Count(c => c.AgentId == a.Id),
                Pending = db.Updates.Count(u => u.AgentId == a.Id && u.Status == UpdateStatuses.Pending),
            })
            .ToListAsync(ct);
        return rows.Select(r => new AgentDto(r.Agent.Id, r.Agent.Name, r.Agent.Type, r.Agent.Description, r.Agent.CreatedAt,
            r.Agent.LastSeenAt, r.Agent.LastSeenAt > onlineSince, r.Containers, r.Pending)).ToList();
    }

    /// <summary>Deletes the agent and everything it reported; its key stops working on the next request.</summary>
    public async Task<bool> DeleteAsync(string id, string actor, CancellationToken ct)
    {
        var agent = await db.Agents.FirstOrDefaultAsync(a => a.Id == id, ct);
        if (agent is null)
        {
            return false;
        }

        db.Agents.Remove(agent);
        audit.Add(actor, "agent.deleted", agent.Id, agent.Name);
        await db.SaveChangesAsync(ct);
        verifier.Forget(agent.KeyPrefix);
        return true;
    }

    [LoggerMessage(50, LogLevel.Information, "Agent {AgentId} ({Name}) registered")]
    private partial void LogRegistered(string agentId, string name);

    [LoggerMessage(51, LogLevel.Warning, "Registration refused for enrollment token {Prefix}")]
    private partial void LogEnrollmentRefused(string prefix);
}
