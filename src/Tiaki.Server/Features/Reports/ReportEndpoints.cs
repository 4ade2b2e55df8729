using Microsoft.AspNetCore.Http.HttpResults;
using Tiaki.Contracts;
using Tiaki.Server.Features.Auth;
using Tiaki.Server.Features.Commands;
using Tiaki.Server.Infrastructure;

namespace Tiaki.Server.Features.Reports;

internal static class ReportEndpoints
{
    public static RouteGroupBuilder MapReportApi(this RouteGroupBuilder api)
    {
        // Response metadata mirrors proto/api.yaml (a contract test compares the two documents).
        var reports = api.MapGroup("/reports").WithTags("Agent").RequireAuthorization(AuthServiceCollectionExtensions.AgentPolicy)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        reports.MapPost("/submit", Submit).ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        reports.MapGet("/commands", Commands);
        reports.MapPost("/commands/{commandId}/result", Result)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return api;
    }

    public static RouteGroupBuilder MapContainerAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/containers", async Task<Ok<IReadOnlyList<ContainerDto>>> (string? agentId, ReportService reports, CancellationToken ct) =>
            TypedResults.Ok(await reports.ListContainersAsync(agentId, ct))).WithTags("Containers");
        admin.MapGet("/containers/query", QueryContainers).WithTags("Containers");
        return admin;
    }

    // The dashboard's container table, as an API: the same query, the same filters.
    private static async Task<Results<Ok<ContainerPage>, ProblemHttpResult>> QueryContainers(
        string? agentId, bool? hasUpdate, string? search, string? sort, bool? descending, int? skip, int? take,
        ReportService reports, CancellationToken ct)
    {
        var by = ContainerSort.Host;
        if (sort is not null && (!Enum.TryParse(sort, ignoreCase: true, out by) || !Enum.IsDefined(by)))
        {
            return Problems.Field("sort", $"must be one of {string.Join(", ", Enum.GetNames<ContainerSort>()).ToLowerInvariant()}");
        }

        var query = new ContainerQuery(string.IsNullOrEmpty(agentId) ? null : agentId, hasUpdate ?? false, search, by, descending ?? false, skip ?? 0, take ?? 50);
        if (query.Validate() is { } bad)
        {
            return Problems.Field(bad.Field, bad.Error);
        }

        return TypedResults.Ok(await reports.QueryContainersAsync(query, ct));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Submit(
        SubmitReportRequest report, ReportService reports, HttpContext http, CancellationToken ct)
    {
        if (ReportService.Validate(report) is { } bad)
        {
            return Problems.Field(bad.Field, bad.Error);
        }

        await reports.SubmitAsync(http.User.AgentId(), report, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<CommandsResponse>, ProblemHttpResult>> Commands(
        int? wait, CommandService commands, HttpContext http, CancellationToken ct)
    {
        if (wait is < 0)
        {
            return Problems.Field("wait", "must be 0 to 60 seconds");
        }

        // The original caps the wait at 60 s; larger values are clamped rather than refused so old agents keep working.
        var seconds = Math.Min(wait ?? 30, 60);
        var list = await commands.PollAsync(http.User.AgentId(), TimeSpan.FromSeconds(seconds), ct);
        return TypedResults.Ok(new CommandsResponse(list));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Result(
        string commandId, CommandResult result, CommandService commands, HttpContext http, CancellationToken ct)
    {
        if (!string.Equals(result.CommandId, commandId, StringComparison.Ordinal))
        {
            return Problems.Field("commandId", "does not match the command id in the path");
        }

        return await commands.RecordResultAsync(http.User.AgentId(), commandId, result, ct) switch
        {
            ResultOutcome.Accepted or ResultOutcome.Repeated => TypedResults.NoContent(),
            ResultOutcome.Conflict => Problems.Conflict("A different result was already recorded for this command."),
            _ => Problems.NotFound("Command"),
        };
    }
}
