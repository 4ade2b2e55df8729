using Microsoft.AspNetCore.Http.HttpResults;
using Tiaki.Server.Features.Agents;
using Tiaki.Server.Infrastructure;

namespace Tiaki.Server.Features.Policies;

internal sealed record PolicyEvaluationStatus(DateTimeOffset? LastRunAt);

internal static class PolicyEndpoints
{
    public static RouteGroupBuilder MapPolicyAdminApi(this RouteGroupBuilder admin)
    {
        var group = admin.MapGroup("/policies").WithTags("Policies");
        group.MapGet("/", async Task<Ok<IReadOnlyList<PolicyDto>>> (PolicyService s, CancellationToken ct) => TypedResults.Ok(await s.ListAsync(ct)));
        group.MapGet("/{id}", async Task<Results<Ok<PolicyDto>, ProblemHttpResult>> (string id, PolicyService s, CancellationToken ct) =>
            await s.GetAsync(id, ct) is { } p ? TypedResults.Ok(p) : Problems.NotFound("Policy"));
        group.MapGet("/match", async Task<Results<Ok<PolicyDto>, NoContent, ProblemHttpResult>> (string? image, string? agentId, PolicyService s, CancellationToken ct) =>
        {
            if (string.IsNullOrWhiteSpace(image))
            {
                return Problems.Field("image", "required");
            }

            return await s.MatchAsync(image, agentId, ct) is { } p ? TypedResults.Ok(p) : TypedResults.NoContent();
        });
        group.MapGet("/evaluation", (PolicyEvaluatorState state) => TypedResults.Ok(new PolicyEvaluationStatus(state.LastRunAt)));
        group.MapPost("/", async Task<Results<Created<PolicyDto>, ProblemHttpResult>> (PolicyRequest body, PolicyService s, HttpContext h, CancellationToken ct) =>
        {
            var r = await s.CreateAsync(body, AgentEndpoints.Actor(h), ct);
            return r.Error == PolicyError.None ? TypedResults.Created($"/api/v1/admin/policies/{r.Value!.Id}", r.Value) : Problem(r);
        });
        group.MapPut("/{id}", async Task<Results<Ok<PolicyDto>, ProblemHttpResult>> (string id, PolicyRequest body, PolicyService s, HttpContext h, CancellationToken ct) =>
        {
            var r = await s.UpdateAsync(id, body, AgentEndpoints.Actor(h), ct);
            return r.Error == PolicyError.None ? TypedResults.Ok(r.Value!) : Problem(r);
        });
        group.MapDelete("/{id}", async Task<Results<NoContent, ProblemHttpResult>> (string id, PolicyService s, HttpContext h, CancellationToken ct) =>
            await s.DeleteAsync(id, AgentEndpoints.Actor(h), ct) ? TypedResults.NoContent() : Problems.NotFound("Policy"));
        return admin;
    }

    private static ProblemHttpResult Problem(PolicyResult r) => r.Error switch
    {
        PolicyError.NotFound => Problems.NotFound("Policy"),
        PolicyError.Invalid => Problems.Field(r.Field!, r.Message!),
        _ => Problems.Conflict(r.Message!),
    };
}
