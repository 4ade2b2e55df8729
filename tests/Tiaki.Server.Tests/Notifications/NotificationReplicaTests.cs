using System.Net;
using System.Text.Json;
using Tiaki.Server.Tests.Api;

namespace Tiaki.Server.Tests.Notifications;

/// <summary>Two replicas on one PostgreSQL share the outbox: every delivery is claimed, and sent, exactly once.</summary>
public sealed class NotificationReplicaTests(NotifyPostgresFixture f) : IClassFixture<NotifyPostgresFixture>
{
    [Fact]
    public async Task Dispatch_TwoReplicasSameOutbox_EachDeliverySentOnce()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        var admin = await f.AdminAsync();
        var channelId = await admin.CreateAsync("/api/v1/admin/notifications/channels", new
        {
            name = "hook-replicas", kind = "webhook", events = new[] { "updates.found" },
            webhook = new { url = new Uri(receiver.BaseUri, "hook").ToString() },
        });
        var replica = f.StartReplica();
        const int Agents = 12;
        var agents = new List<HttpClient>();
        for (var i = 0; i < Agents; i++)
        {
            var (_, key, _) = await f.NewAgentAsync($"replica-host-{i}");
            agents.Add(f.AgentClient(key, i % 2 == 0 ? null : replica));
        }

        // Reports land on both replicas at once; each wakes its own dispatcher, and both also sweep on their timer.
        var results = await Task.WhenAll(agents.Select(a => a.SubmitAsync([Http.Container("web", image: "replica/web")], [Http.Update("web")])));
        results.ShouldAllBe(r => r.StatusCode == HttpStatusCode.NoContent);

        await Eventually.UntilAsync(async () =>
            (await admin.DeliveriesAsync($"&channelId={channelId}&status=sent")).Length == Agents ? "" : null, "every delivery sent", f, TimeSpan.FromSeconds(16));
        var hosts = receiver.Received.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("data").GetProperty("host").GetString()).ToList();
        hosts.Count.ShouldBe(Agents);
        hosts.Distinct().Count().ShouldBe(Agents);
        (await admin.DeliveriesAsync($"&channelId={channelId}")).ShouldAllBe(d => d.GetProperty("attempts").GetInt32() == 1);
    }
}
