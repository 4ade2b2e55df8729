using Tiaki.Agent.Core.Processes;
using Tiaki.Agent.Core.Trivy;

namespace Tiaki.Agent.Core.Tests.Trivy;

/// <summary>Trivy cannot run here: a stand-in executable prints Trivy's real JSON for the image it is asked about.</summary>
public sealed class TrivyScannerTests : IDisposable
{
    private readonly TempDir dir = new();
    private readonly string trivy;
    private readonly string argsLog;

    public TrivyScannerTests()
    {
        var data = Path.Combine(AppContext.BaseDirectory, "Trivy", "data");
        argsLog = Path.Combine(dir.Path, "args.log");
        trivy = dir.File("trivy", $$"""
            #!/bin/sh
            echo "$@" >> '{{argsLog}}'
            for last; do :; done
            case "$last" in
              *:1.0.1) cat '{{data}}/candidate.json' ;;
              *:1.0.0) cat '{{data}}/current.json' ;;
              *:broken) echo 'not json' ;;
              *) echo "FATAL image scan error: unable to find the specified image \"$last\"" >&2; exit 1 ;;
            esac
            """);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(trivy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose() => dir.Dispose();

    private TrivyScanner Scanner => new(new ProcessRunner(), new TrivySettings(true, trivy));

    [Fact]
    public async Task CompareAsync_CandidateAndRunning_CountsBySeverityAndDiffs()
    {
        var (report, error) = await Scanner.CompareAsync("127.0.0.1:5000/demo/app:1.0.1", "127.0.0.1:5000/demo/app:1.0.0", default);

        error.ShouldBeNull();
        report!.Candidate.ShouldBe(new(1, 0, 2, 0, 0));
        report.Current.ShouldBe(new(0, 1, 2, 1, 0));
        report.Introduced.ShouldBe(new(1, 0, 0, 0, 0));
        report.Fixed.ShouldBe(new(0, 1, 0, 1, 0));
        report.IntroducedIds.ShouldBe(["CVE-2024-9999"]);
        report.FixedIds.ShouldBe(["CVE-2023-1111", "CVE-2023-5678"]);
        File.ReadAllLines(argsLog)[0].ShouldBe("image --format json --quiet 127.0.0.1:5000/demo/app:1.0.1");
    }

    [Fact]
    public async Task ScanAsync_TrivyFails_ErrorWithTrivysMessage()
    {
        var (report, error) = await Scanner.ScanAsync("127.0.0.1:5000/demo/app:9.9.9", default);

        report.ShouldBeNull();
        error!.ShouldContain("unable to find the specified image");
    }

    [Fact]
    public async Task ScanAsync_NotJson_ClearError()
    {
        var (report, error) = await Scanner.ScanAsync("x:broken", default);

        report.ShouldBeNull();
        error!.ShouldContain("cannot read");
    }

    [Fact]
    public async Task ScanAsync_TrivyMissing_ErrorNotException()
    {
        var (report, error) = await new TrivyScanner(new ProcessRunner(), new TrivySettings(true, Path.Combine(dir.Path, "no-trivy"))).ScanAsync("x:1", default);

        report.ShouldBeNull();
        error!.ShouldContain("cannot start");
    }
}
