using Microsoft.AspNetCore.Http.HttpResults;
using Tiaki.Contracts;
using Tiaki.Server.Features.Auth;
using Tiaki.Server.Infrastructure;

namespace Tiaki.Server.Features.Agents;

internal static class AgentEndpoints
{
    public static RouteGroupBuilder MapAgentRegistrationApi(this RouteGroupBuilder api)
    {
        api.MapPost("/agents/register", Register).WithTags("Agent").AllowAnonymous()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        api.MapPost("/agents/heartbeat", Heartbeat).WithTags("Agent").RequireAuthorization(AuthServiceCollectionExtensions.AgentPolicy)
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        return api;
    }

    public static RouteGroupBuilder MapAgentAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/enrollment-tokens", CreateEnrollmentToken).WithTags("Agents");
        admin.MapGet("/enrollment-tokens", async Task<Ok<IReadOnlyList<EnrollmentTokenDto>>> (AgentService agents, CancellationToken ct) =>
            TypedResults.Ok(await agents.ListEnrollmentTokensAsync(ct))).WithTags("Agents");
        admin.MapDelete("/enrollment-tokens/{id}", async Task<Results<NoContent, ProblemHttpResult>> (string id, AgentService agents, HttpContext http, CancellationToken ct) =>
            await agents.RevokeEnrollmentTokenAsync(id, Actor(http), ct) ? TypedResults.NoContent() : Problems.NotFound("Enrollment token")).WithTags("Agents");
        admin.MapPost("/agents", Create).WithTags("Agents");
        admin.MapGet("/agents", List).WithTags("Agents");
        admin.MapGet("/agents/{id}", Get).WithTags("Agents");
        admin.MapDelete("/agents/{id}", Delete).WithTags("Agents");
        return admin;
    }

    private static async Task<Results<Ok<RegisterAgentResponse>, ProblemHttpResult>> Register(
        RegisterAgentRequest request, AgentService agents, HttpContext http, CancellationToken ct)
    {
        // A bearer must be present before anything else; the token itself is verified in RegisterAsync, after the
        // body is validated (argon2 is only paid for well-formed requests).
        if (!AgentKeyAuthenticationHandler.TryGetBearer(http.Request, out var bearer))
        {
            return Problems.Status(StatusCodes.Status401Unauthorized, "An enrollment token is required (Authorization: Bearer <token>).");
        }

        if (AgentService.Validate(request.Name, request.Type, request.Description) is { } bad)
        {
            return Problems.Field(bad.Field, bad.Error);
        }

        var created = await agents.RegisterAsync(bearer, request, ct);
        return created is null
            ? Problems.Status(StatusCodes.Status401Unauthorized, "The enrollment token is invalid, expired or used up.")
            : TypedResults.Ok(created);
    }

    private static async Task<NoContent> Heartbeat(AgentService agents, HttpContext http, CancellationToken ct)
    {
        await agents.HeartbeatAsync(http.User.AgentId(), ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Created<EnrollmentTokenResponse>, ProblemHttpResult>> CreateEnrollmentToken(
        CreateEnrollmentTokenRequest? request, AgentService agents, HttpContext http, CancellationToken ct)
    {
        var result = await agents.CreateEnrollmentTokenAsync(request ?? new(), Actor(http), ct);
        return result.Ok ? TypedResults.Created((string?)null, result.Value!) : Problems.Field(result.Field!, result.Error!);
    }

    private static async Task<Results<Created<RegisterAgentResponse>, ProblemHttpResult>> Create(
        CreateAgentRequest request, AgentService agents, HttpContext http, CancellationToken ct)
    {
        if (AgentService.Validate(request.Name, request.Type, request.Description) is { } bad)
        {
            return Problems.Field(bad.Field, bad.Error);
        }

        var created = await agents.CreateAsync(request, Actor(http), ct);
        return TypedResults.Created($"/api/v1/admin/agents/{created.AgentId}", created);
    }

    private static async Task<Ok<IReadOnlyList<AgentDto>>> List(AgentService agents, CancellationToken ct) =>
        TypedResults.Ok(await agents.ListAsync(null, ct));

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> Get(string id, AgentService agents, CancellationToken ct) =>
        (await agents.ListAsync(id, ct)) is [var one] ? TypedResults.Ok(one) : Problems.NotFound("Agent");

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string id, AgentService agents, HttpContext http, CancellationToken ct) =>
        await agents.DeleteAsync(id, Actor(http), ct) ? TypedResults.NoContent() : Problems.NotFound("Agent");

    internal static string Actor(HttpContext http) => http.User.FindFirst("sub")?.Value ?? "admin";
}
