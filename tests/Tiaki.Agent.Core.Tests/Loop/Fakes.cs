using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Tiaki.Agent.Core.Reporting;
using Tiaki.Agent.Core.Runtime;
using Tiaki.Agent.Core.Updates;
using Tiaki.Contracts;

namespace Tiaki.Agent.Core.Tests.Loop;

internal sealed class FakeControlPlane(TimeProvider time) : IControlPlane
{
    public volatile bool Down;
    public string? ApiKey;
    public readonly ConcurrentQueue<AgentCommand> Pending = new();
    public readonly ConcurrentQueue<SubmitReportRequest> Reports = new();
    public readonly ConcurrentQueue<CommandResult> Results = new();
    public readonly ConcurrentQueue<(RegisterAgentRequest Request, string Token)> Registrations = new();
    public int Heartbeats;

    private void ThrowIfDown()
    {
        if (Down) throw new ControlPlaneUnavailableException("connection refused");
    }

    public Task<RegisterAgentResponse> RegisterAsync(RegisterAgentRequest request, string enrollmentToken, CancellationToken ct)
    {
        ThrowIfDown();
        Registrations.Enqueue((request, enrollmentToken));
        return Task.FromResult(new RegisterAgentResponse("agent-1", "issued-key"));
    }

    public Task HeartbeatAsync(CancellationToken ct)
    {
        ThrowIfDown();
        Interlocked.Increment(ref Heartbeats);
        return Task.CompletedTask;
    }

    public Task SubmitReportAsync(SubmitReportRequest report, CancellationToken ct)
    {
        ThrowIfDown();
        Reports.Enqueue(report);
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<AgentCommand>> GetCommandsAsync(TimeSpan wait, CancellationToken ct)
    {
        ThrowIfDown();
        var list = new List<AgentCommand>();
        while (Pending.TryDequeue(out var c)) list.Add(c);
        if (list.Count > 0) return list;
        await Task.Delay(wait, time, ct); // a long poll that nothing answered
        return [];
    }

    public Task PostResultAsync(CommandResult result, CancellationToken ct)
    {
        ThrowIfDown();
        Results.Enqueue(result);
        return Task.CompletedTask;
    }

    public void UseApiKey(string apiKey) => ApiKey = apiKey;
}

internal sealed class FakeRuntime : IContainerRuntime
{
    public int Scans;
    public readonly ConcurrentQueue<(AgentCommand Command, ScannedContainer Target)> Executed = new();
    public List<ScannedContainer> Containers { get; } =
    [
        Container("c-web", "web", "ghcr.io/acme/web", "1.0.0", "/srv/app/compose.yml", "web"),
        Container("c-db", "db", "postgres", "16.1", null, null),
    ];
    public Func<AgentCommand, CommandOutcome> Outcome { get; set; } = c => CommandOutcome.Ok("deployed " + c.LatestTag);

    public static ScannedContainer Container(string id, string name, string image, string tag, string? file, string? service) =>
        new(new ContainerReport(id, name, image, tag, "sha256:" + new string('a', 64), file, service), $"{image}:{tag}", [], new Dictionary<string, string>());

    public string AgentType => AgentTypes.Vm;

    public Task<IReadOnlyList<ScannedContainer>> ScanAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Scans);
        return Task.FromResult<IReadOnlyList<ScannedContainer>>(Containers.ToList());
    }

    public Task<CommandOutcome> ExecuteAsync(AgentCommand command, ScannedContainer target, CancellationToken cancellationToken)
    {
        Executed.Enqueue((command, target));
        return Task.FromResult(Outcome(command));
    }
}

internal sealed class FakeChecker : IUpdateChecker
{
    public Task<IReadOnlyList<ContainerCheck>> CheckAsync(IReadOnlyList<ScannedContainer> containers, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ContainerCheck>>(containers.Select(c => c.Report.Name switch
        {
            "web" => new ContainerCheck(c, new UpdateReport(c.Report.ContainerId, "1.0.0", "1.0.1", "sha256:" + new string('b', 64)), null),
            _ => new ContainerCheck(c, null, "registry said 401: credentials for docker.io are missing"),
        }).ToList());
}

internal sealed class ListLogger<T> : ILogger<T>
{
    public readonly ConcurrentQueue<(EventId Id, string Message)> Entries = new();
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((eventId, formatter(state, exception)));
}

internal static class FakeTimeExtensions
{
    /// <summary>Advances fake time a second at a time until the loop (on another task) reaches the condition.</summary>
    public static async Task AdvanceUntil(this FakeTimeProvider time, Func<bool> condition, string what)
    {
        for (var i = 0; i < 2000; i++)
        {
            if (condition()) return;
            await Task.Delay(2);
            time.Advance(TimeSpan.FromSeconds(1));
        }
        condition().ShouldBeTrue($"the loop never got to: {what}");
    }
}

internal sealed class RejectingControlPlane(FakeControlPlane inner) : IControlPlane
{
    public int Rejections;
    public Task<RegisterAgentResponse> RegisterAsync(RegisterAgentRequest request, string enrollmentToken, CancellationToken ct) => inner.RegisterAsync(request, enrollmentToken, ct);
    public Task HeartbeatAsync(CancellationToken ct) => RejectHeartbeats ? throw new ControlPlaneRejectedException(System.Net.HttpStatusCode.NotFound, "heartbeat: 404") : inner.HeartbeatAsync(ct);
    public bool RejectHeartbeats;
    public Task SubmitReportAsync(SubmitReportRequest report, CancellationToken ct)
    {
        Interlocked.Increment(ref Rejections);
        throw new ControlPlaneRejectedException(System.Net.HttpStatusCode.BadRequest, "containers[0].name: required");
    }
    public Task<IReadOnlyList<AgentCommand>> GetCommandsAsync(TimeSpan wait, CancellationToken ct) => inner.GetCommandsAsync(wait, ct);
    public Task PostResultAsync(CommandResult result, CancellationToken ct) => inner.PostResultAsync(result, ct);
    public void UseApiKey(string apiKey) => inner.UseApiKey(apiKey);
}
