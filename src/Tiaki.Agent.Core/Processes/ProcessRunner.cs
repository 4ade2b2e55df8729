using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Tiaki.Agent.Core.Processes;

/// <summary>What to run: an argument list (never a shell string), where, for how long, and what to hide.</summary>
public sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    public string? WorkingDirectory { get; init; }
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Values replaced by *** in captured output and in <see cref="ProcessResult.Describe"/>.</summary>
    public IReadOnlyList<string> Secrets { get; init; } = [];

    public override string ToString() => FileName + " " + string.Join(' ', Arguments);
}

/// <summary>
/// How a child process ended. A non-zero exit, a timeout or a missing executable are expected
/// outcomes, returned as values; only cancellation by the caller throws.
/// </summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError, bool TimedOut, string? StartError = null)
{
    public bool Succeeded => StartError is null && !TimedOut && ExitCode == 0;

    public string Describe(string what) =>
        StartError is not null ? $"{what}: {StartError}"
        : TimedOut ? $"{what}: timed out"
        : $"{what}: exit code {ExitCode}: {Tail(StandardError.Length > 0 ? StandardError : StandardOutput)}";

    private static string Tail(string s)
    {
        s = s.Trim();
        return s.Length <= 2000 ? s : "..." + s[^2000..];
    }
}

public interface IProcessRunner
{
    Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken);
}

/// <summary>The one way every child process (docker compose, git, trivy) is started.</summary>
public sealed class ProcessRunner : IProcessRunner
{
    public async Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(spec.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            CreateNoWindow = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in spec.Arguments) psi.ArgumentList.Add(a);
        if (spec.WorkingDirectory is not null) psi.WorkingDirectory = spec.WorkingDirectory;
        if (spec.Environment is not null)
        {
            foreach (var (k, v) in spec.Environment)
            {
                if (v is null) psi.Environment.Remove(k);
                else psi.Environment[k] = v;
            }
        }

        using var process = new Process { StartInfo = psi };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            return new ProcessResult(-1, "", "", false, Mask($"cannot start {spec.FileName}: {ex.Message}", spec.Secrets));
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(spec.Timeout);
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            if (cancellationToken.IsCancellationRequested) throw;
            timedOut = true;
        }

        if (!timedOut) process.WaitForExit(); // flushes the asynchronous readers
        string o, e;
        lock (stdout) o = stdout.ToString();
        lock (stderr) e = stderr.ToString();
        return new ProcessResult(timedOut ? -1 : process.ExitCode, Mask(o, spec.Secrets), Mask(e, spec.Secrets), timedOut);
    }

    internal static string Mask(string text, IReadOnlyList<string> secrets)
    {
        foreach (var s in secrets)
        {
            if (!string.IsNullOrEmpty(s)) text = text.Replace(s, "***", StringComparison.Ordinal);
        }
        return text;
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // already exited
        }
    }
}
