using Microsoft.AspNetCore.Http.HttpResults;
using Tiaki.Server.Data;
using Tiaki.Server.Infrastructure;

namespace Tiaki.Server.Features.Health;

internal sealed record HealthStatus(string Status);

internal static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => TypedResults.Ok(new HealthStatus("ok"))).WithTags("Health").AllowAnonymous();
        app.MapGet("/readyz", Ready).WithTags("Health").AllowAnonymous();
        return app;
    }

    private static async Task<Results<Ok<HealthStatus>, ProblemHttpResult>> Ready(TiakiDbContext db, CancellationToken ct)
    {
        bool ok;
        try
        {
            ok = await db.Database.CanConnectAsync(ct);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
        {
            ok = false;
        }

        return ok ? TypedResults.Ok(new HealthStatus("ready")) : Problems.Status(StatusCodes.Status503ServiceUnavailable, "The database is not reachable.");
    }
}
