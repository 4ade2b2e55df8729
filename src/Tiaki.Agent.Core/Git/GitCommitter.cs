using Tiaki.Agent.Core.Processes;

namespace Tiaki.Agent.Core.Git;

public sealed record GitSettings(bool Enabled, string AuthorName, string AuthorEmail, string Executable = "git");

/// <summary>What happened in git. Not committing (no repository, a dirty file) is reported, never fatal.</summary>
public sealed record GitCommitOutcome(bool Committed, string? CommitId, string Message);

/// <summary>Commits a compose change with the git CLI (through the process runner; LibGit2Sharp's native library is a NativeAOT risk).</summary>
public sealed class GitCommitter(IProcessRunner runner, GitSettings settings)
{
    /// <summary>Files among <paramref name="paths"/> with uncommitted changes before the edit; null when not in a repository.</summary>
    public async Task<IReadOnlyList<string>?> DirtyFilesAsync(IReadOnlyList<string> paths, CancellationToken ct)
    {
        if (!settings.Enabled) return null; // no commit will follow: no need to ask git
        var dir = Path.GetDirectoryName(Path.GetFullPath(paths[0]))!;
        var top = await RunAsync(dir, ["rev-parse", "--show-toplevel"], ct);
        if (!top.Succeeded) return null;
        var status = await RunAsync(dir, ["status", "--porcelain", "--", .. paths.Select(Path.GetFullPath)], ct);
        return status.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Length > 3 ? l[3..] : l).ToList();
    }

    /// <summary>
    /// Commits exactly <paramref name="paths"/> (git commit --only), so whatever else is staged or
    /// modified in the repository stays out of the commit. Ignored files (a .env) are left out.
    /// </summary>
    public async Task<GitCommitOutcome> CommitAsync(IReadOnlyList<string> paths, string message, IReadOnlyList<string>? dirtyBefore, CancellationToken ct)
    {
        if (!settings.Enabled) return new(false, null, "git commit disabled (GIT_COMMIT=false)");
        var dir = Path.GetDirectoryName(Path.GetFullPath(paths[0]))!;
        var top = await RunAsync(dir, ["rev-parse", "--show-toplevel"], ct);
        if (!top.Succeeded) return new(false, null, $"{dir} is not in a git repository; change not committed");
        if (dirtyBefore is { Count: > 0 })
            return new(false, null, $"not committed: {string.Join(", ", dirtyBefore)} had uncommitted changes before the update");

        var tracked = new List<string>();
        foreach (var p in paths.Select(Path.GetFullPath))
        {
            var ignored = await RunAsync(dir, ["check-ignore", "-q", "--", p], ct);
            if (ignored.ExitCode == 0) continue;
            var known = await RunAsync(dir, ["ls-files", "--error-unmatch", "--", p], ct);
            if (!known.Succeeded)
            {
                var add = await RunAsync(dir, ["add", "--", p], ct);
                if (!add.Succeeded) return new(false, null, add.Describe("git add"));
            }
            tracked.Add(p);
        }
        if (tracked.Count == 0) return new(false, null, "the changed files are ignored by git; nothing committed");

        var commit = await RunAsync(dir, ["commit", "--no-verify", "--quiet", "-m", message, "--only", "--", .. tracked], ct);
        if (!commit.Succeeded) return new(false, null, commit.Describe("git commit"));
        var head = await RunAsync(dir, ["rev-parse", "HEAD"], ct);
        var id = head.StandardOutput.Trim();
        return new(true, id, $"committed {id[..Math.Min(12, id.Length)]}: {message}");
    }

    private Task<ProcessResult> RunAsync(string dir, IReadOnlyList<string> args, CancellationToken ct) =>
        runner.RunAsync(new ProcessSpec(settings.Executable, ["-C", dir, .. args])
        {
            Timeout = TimeSpan.FromSeconds(60),
            Environment = new Dictionary<string, string?>
            {
                ["GIT_AUTHOR_NAME"] = settings.AuthorName,
                ["GIT_AUTHOR_EMAIL"] = settings.AuthorEmail,
                ["GIT_COMMITTER_NAME"] = settings.AuthorName,
                ["GIT_COMMITTER_EMAIL"] = settings.AuthorEmail,
                ["GIT_TERMINAL_PROMPT"] = "0",
            },
        }, ct);
}
