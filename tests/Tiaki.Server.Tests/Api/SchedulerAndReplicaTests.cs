using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Tiaki.Server.Features.Commands;
using Tiaki.Server.Features.Scheduling;

namespace Tiaki.Server.Tests.Api;

public sealed class SchedulerTests_Sqlite(SqliteSchedulerFixture f) : SchedulerTests(f), IClassFixture<SqliteSchedulerFixture>;

public sealed class SchedulerTests_Postgres(PostgresSchedulerFixture f) : SchedulerTests(f), IClassFixture<PostgresSchedulerFixture>;

/// <summary>SCAN_INTERVAL queues a scan for every online agent.</summary>
public abstract class SchedulerTests(ServerFixture f)
{
    [Fact]
    public async Task Scheduler_AtCronTime_QueuesScanForOnlineAgentsOnly()
    {
        var (_, _, online) = await f.NewAgentAsync("online");
        var (_, _, never) = await f.NewAgentAsync("never-seen");
        await online.PostAsync("/api/v1/agents/heartbeat", null);

        // The fixture's SCAN_INTERVAL is */5: move the clock in small steps until the scheduler's timer fires.
        IReadOnlyList<Tiaki.Contracts.AgentCommand> got = [];
        for (var i = 0; i < 50 && got.Count == 0; i++)
        {
            f.Time.Advance(TimeSpan.FromSeconds(30));
            await Task.Delay(50);
            got = await online.PollAsync();
            await online.PostAsync("/api/v1/agents/heartbeat", null);
        }

        got.ShouldHaveSingleItem().Type.ShouldBe("scan");
        (await never.PollAsync()).ShouldBeEmpty();
    }
}

/// <summary>Several replicas over one PostgreSQL.</summary>
public sealed class ReplicaTests(PostgresSchedulerFixture f) : IClassFixture<PostgresSchedulerFixture>
{
    [Fact]
    public async Task TwoReplicas_CommandQueuedThroughOne_WakesLongPollOnTheOther()
    {
        var replica2 = f.StartReplica();
        await replica2.Services.GetRequiredService<PostgresCommandListener>().Listening.WaitAsync(TimeSpan.FromSeconds(10));
        var (id, key, _) = await f.NewAgentAsync("spread");
        var onReplica2 = f.AgentClient(key, replica2);

        var poll = onReplica2.PollAsync(wait: 60);
        await Task.Delay(300);
        poll.IsCompleted.ShouldBeFalse();
        var queued = await (await f.AdminAsync()).PostAsJsonAsync("/api/v1/admin/scans", new { agentId = id });
        queued.StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var commands = await poll.WaitAsync(TimeSpan.FromSeconds(10));
        commands.ShouldHaveSingleItem().Type.ShouldBe("scan");
    }
}

/// <summary>
/// The advisory lock that picks the scheduling replica, on replicas whose own schedulers are off: with them on,
/// a replica's start-up attempt could take the lock back between the test's steps.
/// </summary>
public sealed class SchedulerLeadershipTests(PostgresFixture f) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task TwoReplicas_OnlyOneHoldsTheSchedulerLock_TheOtherTakesOverWhenItStops()
    {
        var a = f.StartReplica();
        var b = f.StartReplica();
        var leaderA = a.Services.GetRequiredService<SchedulerLeadership>();
        var leaderB = b.Services.GetRequiredService<SchedulerLeadership>();
        var leader1 = f.Factory.Services.GetRequiredService<SchedulerLeadership>();

        var held = new[] { await leader1.TryAcquireAsync(default), await leaderA.TryAcquireAsync(default), await leaderB.TryAcquireAsync(default) };

        held.Count(h => h).ShouldBe(1);
        var all = new[] { leader1, leaderA, leaderB };
        var leader = all[Array.IndexOf(held, true)];
        await leader.ReleaseAsync();

        var others = all.Where(l => l != leader).ToList();
        var after = new[] { await others[0].TryAcquireAsync(default), await others[1].TryAcquireAsync(default) };
        after.Count(h => h).ShouldBe(1);
        (await leader.TryAcquireAsync(default)).ShouldBeFalse();
    }
}
