using Tiaki.Agent.Core.Processes;

namespace Tiaki.Agent.Core.Tests.Processes;

public sealed class ProcessRunnerTests
{
    [Fact]
    public async Task RunAsync_SecretInOutput_Masked()
    {
        var r = await new ProcessRunner().RunAsync(new ProcessSpec("/bin/sh", ["-c", "echo token=s3cr3t-value; echo s3cr3t-value >&2; exit 3"])
        {
            Secrets = ["s3cr3t-value"],
        }, default);

        r.ExitCode.ShouldBe(3);
        r.Succeeded.ShouldBeFalse();
        r.StandardOutput.ShouldBe("token=***\n");
        r.Describe("x").ShouldNotContain("s3cr3t");
    }

    [Fact]
    public async Task RunAsync_ArgumentsWithSpacesAndQuotes_PassedVerbatimWithoutShell()
    {
        var r = await new ProcessRunner().RunAsync(new ProcessSpec("/bin/echo", ["a b", "'c'", "$(id)", ";", "d"]), default);

        r.StandardOutput.ShouldBe("a b 'c' $(id) ; d\n");
    }

    [Fact]
    public async Task RunAsync_Timeout_KilledAndReported()
    {
        var r = await new ProcessRunner().RunAsync(new ProcessSpec("/bin/sleep", ["30"]) { Timeout = TimeSpan.FromMilliseconds(300) }, default);

        r.TimedOut.ShouldBeTrue();
        r.Describe("sleep").ShouldContain("timed out");
    }

    [Fact]
    public async Task RunAsync_CallerCancels_Throws()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Should.ThrowAsync<OperationCanceledException>(() => new ProcessRunner().RunAsync(new ProcessSpec("/bin/sleep", ["30"]), cts.Token));
    }
}
