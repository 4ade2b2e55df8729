using Tiaki.Agent.Core.Git;
using Tiaki.Agent.Core.Processes;

namespace Tiaki.Agent.Core.Tests.Git;

public sealed class GitCommitterTests
{
    private static readonly GitCommitter Git = new(new ProcessRunner(), new GitSettings(true, "Tiaki Bot", "bot@tiaki.test"));

    private static string RunGit(string dir, params string[] args)
    {
        var r = new ProcessRunner().RunAsync(new ProcessSpec("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", .. args]), default).GetAwaiter().GetResult();
        r.Succeeded.ShouldBeTrue(r.Describe("git " + string.Join(' ', args)));
        return r.StandardOutput.Trim();
    }

    private static TempDir Repo()
    {
        var d = new TempDir();
        RunGit(d.Path, "init", "-q", "-b", "main");
        d.File("compose.yml", "services:\n  web:\n    image: web:1.0.0\n");
        d.File("notes.txt", "v1\n");
        RunGit(d.Path, "add", ".");
        RunGit(d.Path, "commit", "-q", "-m", "init");
        return d;
    }

    [Fact]
    public async Task CommitAsync_ComposeChanged_CommitsOnlyThatFileWithAuthorAndMessage()
    {
        using var repo = Repo();
        var compose = Path.Combine(repo.Path, "compose.yml");
        var dirty = await Git.DirtyFilesAsync([compose], default);
        File.WriteAllText(compose, "services:\n  web:\n    image: web:1.0.1\n");
        File.WriteAllText(Path.Combine(repo.Path, "notes.txt"), "unrelated change\n");
        repo.File("staged.txt", "staged by the user\n");
        RunGit(repo.Path, "add", "staged.txt");

        var outcome = await Git.CommitAsync([compose], "tiaki: update web from 1.0.0 to 1.0.1", dirty, default);

        outcome.Committed.ShouldBeTrue(outcome.Message);
        RunGit(repo.Path, "log", "-1", "--format=%an <%ae>|%s").ShouldBe("Tiaki Bot <bot@tiaki.test>|tiaki: update web from 1.0.0 to 1.0.1");
        RunGit(repo.Path, "show", "--name-only", "--format=", "HEAD").ShouldBe("compose.yml");
        RunGit(repo.Path, "status", "--porcelain").ShouldContain("A  staged.txt");
        RunGit(repo.Path, "status", "--porcelain").ShouldContain("M notes.txt");
    }

    [Fact]
    public async Task CommitAsync_ComposeFileDirtyBefore_ReportsAndDoesNotCommit()
    {
        using var repo = Repo();
        var compose = Path.Combine(repo.Path, "compose.yml");
        File.AppendAllText(compose, "# local edit\n");
        var dirty = await Git.DirtyFilesAsync([compose], default);
        var head = RunGit(repo.Path, "rev-parse", "HEAD");

        var outcome = await Git.CommitAsync([compose], "msg", dirty, default);

        outcome.Committed.ShouldBeFalse();
        outcome.Message.ShouldContain("uncommitted changes");
        RunGit(repo.Path, "rev-parse", "HEAD").ShouldBe(head);
    }

    [Fact]
    public async Task CommitAsync_NotARepository_ReportedNotFatal()
    {
        using var dir = new TempDir();
        var compose = dir.File("compose.yml", "services: {}\n");

        (await Git.DirtyFilesAsync([compose], default)).ShouldBeNull();
        var outcome = await Git.CommitAsync([compose], "msg", null, default);

        outcome.Committed.ShouldBeFalse();
        outcome.Message.ShouldContain("not in a git repository");
    }

    [Fact]
    public async Task CommitAsync_IgnoredDotEnv_LeftOutOfTheCommit()
    {
        using var repo = Repo();
        repo.File(".gitignore", ".env\n");
        RunGit(repo.Path, "add", ".gitignore");
        RunGit(repo.Path, "commit", "-q", "-m", "ignore");
        var env = repo.File(".env", "TAG=1.0.1\n");

        var outcome = await Git.CommitAsync([env], "msg", [], default);

        outcome.Committed.ShouldBeFalse();
        outcome.Message.ShouldContain("ignored");
    }
}
