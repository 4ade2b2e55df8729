using Microsoft.AspNetCore.Http.HttpResults;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Agents;
using Tiaki.Server.Infrastructure;

namespace Tiaki.Server.Features.Updates;

internal sealed record CommandAccepted(string CommandId);

internal static class UpdateEndpoints
{
    public static RouteGroupBuilder MapUpdateAdminApi(this RouteGroupBuilder admin)
    {
        var updates = admin.MapGroup("/updates").WithTags("Updates");
        updates.MapGet("/", List);
        updates.MapPost("/{id}/approve", (string id, UpdateService s, HttpContext h, CancellationToken ct) => Decide(s.ApproveAsync(id, AgentEndpoints.Actor(h), ct)));
        updates.MapPost("/{id}/ignore", (string id, UpdateService s, HttpContext h, CancellationToken ct) => Decide(s.IgnoreAsync(id, AgentEndpoints.Actor(h), ct)));
        updates.MapPost("/{id}/unignore", (string id, UpdateService s, HttpContext h, CancellationToken ct) => Decide(s.UnignoreAsync(id, AgentEndpoints.Actor(h), ct)));
        updates.MapPost("/{id}/deploy", (string id, UpdateService s, HttpContext h, CancellationToken ct) => Queue(s.DeployAsync(id, AgentEndpoints.Actor(h), ct)));
        updates.MapPost("/{id}/rollback", (string id, UpdateService s, HttpContext h, CancellationToken ct) => Queue(s.RollbackAsync(id, AgentEndpoints.Actor(h), ct)));
        return admin;
    }

    private static async Task<Results<Ok<IReadOnlyList<UpdateDto>>, ProblemHttpResult>> List(string? status, string? agentId, UpdateService updates, CancellationToken ct)
    {
        if (status is not null && !UpdateStatuses.All.Contains(status))
        {
            return Problems.Field("status", $"must be one of {string.Join(", ", UpdateStatuses.All)}");
        }

        return TypedResults.Ok(await updates.ListAsync(status, agentId, ct));
    }

    private static async Task<Results<Ok<UpdateDto>, ProblemHttpResult>> Decide(Task<UpdateActionResult> action)
    {
        var r = await action;
        return r.Error switch
        {
            UpdateActionError.None => TypedResults.Ok(r.Update!),
            UpdateActionError.NotFound => Problems.NotFound("Update"),
            _ => Problems.Conflict(r.Reason!),
        };
    }

    private static async Task<Results<Accepted<CommandAccepted>, ProblemHttpResult>> Queue(Task<UpdateActionResult> action)
    {
        var r = await action;
        return r.Error switch
        {
            UpdateActionError.None => TypedResults.Accepted((string?)null, new CommandAccepted(r.CommandId!)),
            UpdateActionError.NotFound => Problems.NotFound("Update"),
            _ => Problems.Conflict(r.Reason!),
        };
    }
}
