using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Tiaki.Server.Data;

namespace Tiaki.Server.Features.Notifications;

internal sealed record AttemptDto(DateTimeOffset At, bool Success, string? Error);

internal sealed record DeliveryDto(
    string Id, string ChannelId, string Event, string Title, string Body, string? Link, string Status, int Attempts,
    DateTimeOffset CreatedAt, DateTimeOffset NextAttemptAt, DateTimeOffset? SentAt, string? LastError, IReadOnlyList<AttemptDto> AttemptLog);

/// <summary>What was sent where, newest first, with every attempt (admin API and the dashboard's settings page).</summary>
internal sealed class DeliveryHistory(TiakiDbContext db)
{
    public Task<IReadOnlyList<DeliveryDto>> ListAsync(string? status, string? channelId, string? eventName, int limit, CancellationToken ct) =>
        ListAsync(d => (status == null || d.Status == status) && (channelId == null || d.ChannelId == channelId) && (eventName == null || d.Event == eventName),
            limit, ct);

    public async Task<IReadOnlyList<DeliveryDto>> ListAsync(Expression<Func<NotificationDeliveryEntity, bool>> filter, int limit, CancellationToken ct)
    {
        var rows = await db.NotificationDeliveries.AsNoTracking().Where(filter).OrderByDescending(d => d.CreatedAt).ThenByDescending(d => d.Id)
            .Take(limit).ToListAsync(ct);
        var ids = rows.Select(r => r.Id).ToList();
        var attempts = (await db.NotificationAttempts.AsNoTracking().Where(a => ids.Contains(a.DeliveryId)).OrderBy(a => a.Id).ToListAsync(ct))
            .ToLookup(a => a.DeliveryId);
        return rows.Select(d => new DeliveryDto(d.Id, d.ChannelId, d.Event, d.Title, d.Body, d.Link, d.Status, d.Attempts, d.CreatedAt,
            d.NextAttemptAt, d.SentAt, d.LastError, attempts[d.Id].Select(a => new AttemptDto(a.At, a.Success, a.Error)).ToList())).ToList();
    }
}
