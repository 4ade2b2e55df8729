using System.Collections;
using Microsoft.Extensions.Time.Testing;
using Tiaki.Agent.Core.Configuration;
using Tiaki.Agent.Core.Loop;
using Tiaki.Agent.Core.Processes;
using Tiaki.Agent.Core.Reporting;
using Tiaki.Agent.Core.Runtime;
using Tiaki.Agent.Core.Trivy;
using Tiaki.Contracts;

namespace Tiaki.Agent.Core.Tests.Loop;

public sealed class AgentLoopTests : IDisposable
{
    private readonly TempDir state = new();
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly FakeControlPlane control;
    private readonly FakeRuntime runtime = new();
    private readonly ListLogger<AgentLoop> log = new();
    private readonly CancellationTokenSource stop = new();

    public AgentLoopTests() => control = new FakeControlPlane(time);

    public void Dispose()
    {
        stop.Cancel();
        stop.Dispose();
        state.Dispose();
    }

    private AgentOptions Options(string? apiKey = "key", string? enrollment = null) =>
        AgentOptions.FromEnvironment(new Hashtable
        {
            ["CONTROL_URL"] = "http://control.test",
            ["AGENT_API_KEY"] = apiKey,
            ["TIAKI_ENROLLMENT_TOKEN"] = enrollment,
            ["AGENT_NAME"] = "host-1",
            ["AGENT_STATE_DIR"] = state.Path,
            ["SCAN_INTERVAL"] = "5m",
        }).Options!;

    private Task Start(AgentOptions options, TrivyScanner? trivy = null)
    {
        var loop = new AgentLoop(options, control, runtime, new FakeChecker(), new AgentState(state.Path), time, log, trivy, () => 0.5);
        return Task.Run(() => loop.RunAsync(stop.Token));
    }

    [Fact]
    public async Task RunAsync_EnrollmentToken_RegistersOnceStoresKeyAndReusesIt()
    {
        var run = Start(Options(apiKey: null, enrollment: "enroll-123"));
        await time.AdvanceUntil(() => !control.Reports.IsEmpty, "first report");

        control.Registrations.ShouldHaveSingleItem().ShouldBe((new RegisterAgentRequest("host-1", "vm"), "enroll-123"));
        control.ApiKey.ShouldBe("issued-key");
        new AgentState(state.Path).LoadCredentials().ShouldBe(new StoredCredentials("agent-1", "issued-key"));
        if (!OperatingSystem.IsWindows()) File.GetUnixFileMode(Path.Combine(state.Path, "credentials.json")).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        stop.Cancel();
        await Should.ThrowAsync<OperationCanceledException>(run);

        // a restart finds the key on disk and does not register again
        var second = new FakeControlPlane(time);
        using var stop2 = new CancellationTokenSource();
        var run2 = Task.Run(() => new AgentLoop(Options(apiKey: null, enrollment: "enroll-123"), second, runtime, new FakeChecker(), new AgentState(state.Path), time, log).RunAsync(stop2.Token));
        await time.AdvanceUntil(() => !second.Reports.IsEmpty, "report after restart");
        second.Registrations.ShouldBeEmpty();
        second.ApiKey.ShouldBe("issued-key");
        stop2.Cancel();
        await Should.ThrowAsync<OperationCanceledException>(run2);
    }

    [Fact]
    public async Task RunAsync_Scan_SubmitsContainersUpdatesAndCheckErrors()
    {
        _ = Start(Options());
        await time.AdvanceUntil(() => !control.Reports.IsEmpty, "first report");

        var report = control.Reports.Single();
        report.Containers.Select(c => c.Name).ShouldBe(["web", "db"]);
        report.Containers.Single(c => c.Name == "db").CheckError.ShouldBe("registry said 401: credentials for docker.io are missing");
        report.Containers.Single(c => c.Name == "web").CheckError.ShouldBeNull();
        report.Updates.ShouldHaveSingleItem().LatestTag.ShouldBe("1.0.1");
        control.Heartbeats.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task RunAsync_ScanCommand_ScansAtOnceNotAtTheInterval()
    {
        _ = Start(Options());
        await time.AdvanceUntil(() => runtime.Scans == 1 && control.Reports.Count == 1, "first scan");
        var before = time.GetUtcNow();

        control.Pending.Enqueue(new AgentCommand("s1", null, null, null, null, null) { Type = CommandTypes.Scan });
        await time.AdvanceUntil(() => control.Reports.Count == 2, "scan requested by the server");

        runtime.Scans.ShouldBe(2);
        (time.GetUtcNow() - before).ShouldBeLessThan(TimeSpan.FromMinutes(5));
        control.Results.ShouldHaveSingleItem().ShouldBe(new CommandResult("s1", true, null, "scan started"));
    }

    [Fact]
    public async Task RunAsync_DeployOfReportedComposeService_ExecutedAndResultPosted()
    {
        _ = Start(Options());
        await time.AdvanceUntil(() => control.Reports.Count == 1, "first report");

        control.Pending.Enqueue(new AgentCommand("d1", "u1", "ghcr.io/acme/web", "1.0.1", "/srv/app/compose.yml", "web"));
        await time.AdvanceUntil(() => !control.Results.IsEmpty, "deploy result");

        var (command, target) = runtime.Executed.ShouldHaveSingleItem();
        command.CommandId.ShouldBe("d1");
        target.Report.ContainerId.ShouldBe("c-web");
        control.Results.Single().ShouldBe(new CommandResult("d1", true, null, "deployed 1.0.1"));
    }

    public static TheoryData<AgentCommand, string> Forbidden => new()
    {
        { new AgentCommand("f1", "u", "ghcr.io/acme/web", "1.0.1", "/etc/cron.d/evil.yml", "web"), "was not reported by this agent" },
        { new AgentCommand("f2", "u", "ghcr.io/acme/web", "1.0.1", "/srv/app/compose.yml", "other"), "was not reported by this agent" },
        { new AgentCommand("f3", "u", "ghcr.io/acme/web", "1.0.1", null, null) { ContainerId = "not-mine" }, "was not reported by this agent" },
        { new AgentCommand("f4", "u", "ghcr.io/acme/web", "1.0.1", "/etc/passwd", null) { ContainerId = "c-web" }, "is not the one" },
        { new AgentCommand("f5", "u", "evil.example/miner", "1.0.1", null, null) { ContainerId = "c-web" }, "is not the image" },
        { new AgentCommand("f6", "u", "ghcr.io/acme/web", "1.0.1;rm -rf /", null, null) { ContainerId = "c-web" }, "not a valid image tag" },
        { new AgentCommand("f7", "u", null, null, null, null) { ContainerId = "c-web", Type = CommandTypes.Rollback }, "previousTag" },
        { new AgentCommand("f8", "u", null, "1.0.1", null, null), "names neither" },
    };

    [Theory]
    [MemberData(nameof(Forbidden))]
    public async Task RunAsync_CommandForAnythingNotReported_RefusedWithErrorResult(AgentCommand command, string reason)
    {
        _ = Start(Options());
        await time.AdvanceUntil(() => control.Reports.Count == 1, "first report");

        control.Pending.Enqueue(command);
        await time.AdvanceUntil(() => !control.Results.IsEmpty, "refusal");

        runtime.Executed.ShouldBeEmpty();
        var result = control.Results.Single();
        result.Success.ShouldBeFalse();
        result.Error!.ShouldContain(reason);
    }

    [Fact]
    public async Task RunAsync_SameCommandTwice_ExecutedOnce()
    {
        _ = Start(Options());
        await time.AdvanceUntil(() => control.Reports.Count == 1, "first report");
        var command = new AgentCommand("dup", "u1", "postgres", "16.2", null, null) { ContainerId = "c-db" };

        control.Pending.Enqueue(command);
        await time.AdvanceUntil(() => control.Results.Count == 1, "first result");
        control.Pending.Enqueue(command);
        await time.AdvanceUntil(() => control.Results.Count == 2, "second result");

        runtime.Executed.Count.ShouldBe(1);
        control.Results.Select(r => r.CommandId).ShouldBe(["dup", "dup"]);
    }

    [Fact]
    public async Task RunAsync_ControlPlaneDownWhilePostingResult_KeepsRunningLogsOnceAndDeliversLater()
    {
        runtime.Outcome = c => { control.Down = true; return CommandOutcome.Failed("health gate: container exited with code 3; rolled back", "log"); };
        _ = Start(Options());
        await time.AdvanceUntil(() => control.Reports.Count == 1, "first report");

        control.Pending.Enqueue(new AgentCommand("d9", "u", "ghcr.io/acme/web", "1.0.2", null, null) { ContainerId = "c-web" });
        await time.AdvanceUntil(() => Directory.Exists(Path.Combine(state.Path, "outbox")) && Directory.GetFiles(Path.Combine(state.Path, "outbox")).Length == 1, "result kept on disk");
        time.Advance(TimeSpan.FromMinutes(10)); // a long outage: many retries
        for (var i = 0; i < 30; i++) { await Task.Delay(2); time.Advance(TimeSpan.FromSeconds(61)); }
        control.Results.ShouldBeEmpty();

        control.Down = false;
        await time.AdvanceUntil(() => !control.Results.IsEmpty, "kept result delivered");

        control.Results.Single().ShouldBe(new CommandResult("d9", false, "health gate: container exited with code 3; rolled back", "log"));
        Directory.GetFiles(Path.Combine(state.Path, "outbox")).ShouldBeEmpty();
        log.Entries.Count(e => e.Id.Id == 7).ShouldBe(1); // one line for the whole outage
        log.Entries.Count(e => e.Id.Id == 8).ShouldBe(1);
    }

    [Fact]
    public async Task RunAsync_ReportRefused_KeepsRunningAndStillTakesCommands()
    {
        var rejecting = new RejectingControlPlane(control) { RejectHeartbeats = true };
        var loop = new AgentLoop(Options(), rejecting, runtime, new FakeChecker(), new AgentState(state.Path), time, log);
        var run = Task.Run(() => loop.RunAsync(stop.Token));
        await time.AdvanceUntil(() => rejecting.Rejections == 1, "the refused report");

        var before = time.GetUtcNow();
        control.Pending.Enqueue(new AgentCommand("s2", null, null, null, null, null) { Type = CommandTypes.Scan });
        await time.AdvanceUntil(() => rejecting.Rejections == 2, "the next scan's report");

        (time.GetUtcNow() - before).ShouldBeLessThan(TimeSpan.FromMinutes(5)); // the scan command got through, not the interval
        control.Results.ShouldContain(r => r.CommandId == "s2" && r.Success);
        run.IsCompleted.ShouldBeFalse();
        log.Entries.ShouldContain(e => e.Id.Id == 13);
        log.Entries.ShouldContain(e => e.Id.Id == 12 && e.Message.Contains("containers[0].name"));
    }

    [Fact]
    public async Task RunAsync_TrivyEnabled_UpdateCarriesVulnerabilities()
    {
        var data = Path.Combine(AppContext.BaseDirectory, "Trivy", "data");
        var trivy = state.File("trivy", $"#!/bin/sh\nfor last; do :; done\ncase \"$last\" in *:1.0.1) cat '{data}/candidate.json';; *) cat '{data}/current.json';; esac\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(trivy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _ = Start(Options() with { TrivyEnabled = true }, new TrivyScanner(new ProcessRunner(), new TrivySettings(true, trivy)));
        await time.AdvanceUntil(() => control.Reports.Count == 1, "first report");

        var v = control.Reports.Single().Updates!.Single().Vulnerabilities!;
        v.Candidate.Critical.ShouldBe(1);
        v.IntroducedIds.ShouldBe(["CVE-2024-9999"]);
    }
}
