using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Agents;
using Tiaki.Server.Infrastructure;

namespace Tiaki.Server.Features.Notifications;

internal static class NotificationEndpoints
{
    public static RouteGroupBuilder MapNotificationAdminApi(this RouteGroupBuilder admin)
    {
        var group = admin.MapGroup("/notifications").WithTags("Notifications");
        group.MapGet("/channels", async Task<Ok<IReadOnlyList<ChannelDto>>> (ChannelService s, CancellationToken ct) => TypedResults.Ok(await s.ListAsync(ct)));
        group.MapGet("/channels/{id}", async Task<Results<Ok<ChannelDto>, ProblemHttpResult>> (string id, ChannelService s, CancellationToken ct) =>
            await s.GetAsync(id, ct) is { } c ? TypedResults.Ok(c) : Problems.NotFound("Channel"));
        group.MapPost("/channels", async Task<Results<Created<ChannelDto>, ProblemHttpResult>> (ChannelRequest body, ChannelService s, HttpContext h, CancellationToken ct) =>
        {
            var r = await s.CreateAsync(body, AgentEndpoints.Actor(h), ct);
            return r.Error == ChannelError.None ? TypedResults.Created($"/api/v1/admin/notifications/channels/{r.Value!.Id}", r.Value) : Problem(r);
        });
        group.MapPut("/channels/{id}", async Task<Results<Ok<ChannelDto>, ProblemHttpResult>> (string id, ChannelRequest body, ChannelService s, HttpContext h, CancellationToken ct) =>
        {
            var r = await s.UpdateAsync(id, body, AgentEndpoints.Actor(h), ct);
            return r.Error == ChannelError.None ? TypedResults.Ok(r.Value!) : Problem(r);
        });
        group.MapDelete("/channels/{id}", async Task<Results<NoContent, ProblemHttpResult>> (string id, ChannelService s, HttpContext h, CancellationToken ct) =>
            await s.DeleteAsync(id, AgentEndpoints.Actor(h), ct) switch
            {
                ChannelError.None => TypedResults.NoContent(),
                ChannelError.ReadOnly => Problems.Conflict("The default e-mail channel comes from the SMTP_* settings; unset SMTP_HOST to remove it."),
                _ => Problems.NotFound("Channel"),
            });
        group.MapPost("/channels/{id}/test", async Task<Results<Ok<TestResultDto>, ProblemHttpResult>> (string id, ChannelService s, HttpContext h, CancellationToken ct) =>
        {
            var r = await s.TestAsync(id, AgentEndpoints.Actor(h), ct);
            return r.Error == ChannelError.None ? TypedResults.Ok(r.Value!) : Problems.NotFound("Channel");
        });

        group.MapGet("/deliveries", ListDeliveries);
        group.MapGet("/deliveries/{id}", async Task<Results<Ok<DeliveryDto>, ProblemHttpResult>> (string id, DeliveryHistory history, CancellationToken ct) =>
            await history.ListAsync(d => d.Id == id, 1, ct) is [var d] ? TypedResults.Ok(d) : Problems.NotFound("Delivery"));
        group.MapPost("/deliveries/{id}/retry", RetryDelivery);
        return admin;
    }

    private static ProblemHttpResult Problem<T>(ChannelResult<T> r) => r.Error switch
    {
        ChannelError.NotFound => Problems.NotFound("Channel"),
        ChannelError.Invalid => Problems.Field(r.Field!, r.Message!),
        _ => Problems.Conflict(r.Message!),
    };

    private static async Task<Results<Ok<IReadOnlyList<DeliveryDto>>, ProblemHttpResult>> ListDeliveries(
        string? status, string? channelId, string? @event, int? limit, DeliveryHistory history, CancellationToken ct)
    {
        if (status is not null && !DeliveryStatuses.All.Contains(status))
        {
            return Problems.Field("status", $"must be one of {string.Join(", ", DeliveryStatuses.All)}");
        }

        if (limit is < 1 or > 1000)
        {
            return Problems.Field("limit", "must be from 1 to 1000");
        }

        var rows = await history.ListAsync(status, channelId, @event, limit ?? 100, ct);
        return TypedResults.Ok(rows);
    }

    /// <summary>Puts a delivery that was given up back in the queue (after fixing the channel, say).</summary>
    private static async Task<Results<Accepted, ProblemHttpResult>> RetryDelivery(
        string id, TiakiDbContext db, NotificationSignal signal, TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var n = await db.NotificationDeliveries.Where(d => d.Id == id && d.Status == DeliveryStatuses.Failed)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, DeliveryStatuses.Pending).SetProperty(d => d.NextAttemptAt, now), ct);
        if (n == 1)
        {
            signal.Wake();
            return TypedResults.Accepted((string?)null);
        }

        return await db.NotificationDeliveries.AnyAsync(d => d.Id == id, ct)
            ? Problems.Conflict("Only a delivery that was given up (failed) can be retried; this one is still queued or was sent.")
            : Problems.NotFound("Delivery");
    }
}
