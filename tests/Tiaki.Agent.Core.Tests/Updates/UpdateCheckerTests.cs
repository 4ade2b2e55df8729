using Tiaki.Agent.Core.Runtime;
using Tiaki.Agent.Core.Updates;
using Tiaki.Contracts;
using Tiaki.Testing.Registry;

namespace Tiaki.Agent.Core.Tests.Updates;

/// <summary>The checker against the real shared registry, through a proxy that counts requests.</summary>
public sealed class UpdateCheckerTests : IAsyncLifetime
{
    private readonly string _upstream = TestServices.SharedRegistry;
    private RegistryProxy _proxy = null!;
    private ImagePusher _pusher = null!;
    private UpdateChecker _checker = null!;

    public async Task InitializeAsync()
    {
        _proxy = await RegistryProxy.StartAsync(_upstream);
        _pusher = new ImagePusher(_upstream);
        _checker = new UpdateChecker(new UpdateCheckerOptions { AuthFile = "/nonexistent/config.json", InitialBackoff = TimeSpan.FromMilliseconds(5), MaxAttempts = 2 });
    }

    public async Task DisposeAsync()
    {
        _checker.Dispose();
        _pusher.Dispose();
        await _proxy.DisposeAsync();
    }

    private ScannedContainer Container(string repository, string tag, string? digest = null, Dictionary<string, string>? labels = null, string id = "c1")
    {
        var image = $"{_proxy.Host}/{repository}:{tag}";
        return new ScannedContainer(
            new ContainerReport(id, "name-" + id, $"{_proxy.Host}/{repository}", tag, digest ?? ""),
            image,
            digest is null ? [] : [$"{_proxy.Host}/{repository}@{digest}"],
            labels ?? []);
    }

    [Fact]
    public async Task CheckAsync_NewerVersionsWithMinorPolicy_ReportsNewestMinorWithDigestChangelogAndCreated()
    {
        var repo = TestServices.UniqueRepository("semver");
        var created = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);
        var spec = new ImageSpec { Created = created, Labels = new() { ["org.opencontainers.image.source"] = "https://github.com/acme/widget" } };
        var current = await _pusher.PushImageAsync(repo, "1.0.0", spec);
        var minor = await _pusher.PushImageAsync(repo, "1.1.0", spec);
        await _pusher.PushImageAsync(repo, "2.0.0", spec);
        await _pusher.PushImageAsync(repo, "1.2.0-alpine", spec);
        await _pusher.PushImageAsync(repo, "1.3.0-rc.1", spec);

        var checks = await _checker.CheckAsync([Container(repo, "1.0.0", current, new() { ["tiaki.update"] = "minor" })], CancellationToken.None);

        var update = checks.Single().Update.ShouldNotBeNull();
        checks.Single().Error.ShouldBeNull();
        update.ContainerId.ShouldBe("c1");
        update.CurrentTag.ShouldBe("1.0.0");
        update.LatestTag.ShouldBe("1.1.0");
        update.LatestDigest.ShouldBe(minor);
        update.Bump.ShouldBe("minor");
        update.ChangelogUrl.ShouldBe("https://github.com/acme/widget/releases");
        update.ImageCreatedAt.ShouldBe(created);
    }

    [Fact]
    public async Task CheckAsync_LatestRepushed_ReportsDigestUpdateOnlyAfterThePush()
    {
        var repo = TestServices.UniqueRepository("latest");
        var first = await _pusher.PushImageAsync(repo, "latest");

        var before = await _checker.CheckAsync([Container(repo, "latest", first)], CancellationToken.None);
        var second = await _pusher.PushImageAsync(repo, "latest");
        var after = await _checker.CheckAsync([Container(repo, "latest", first)], CancellationToken.None);

        before.Single().Update.ShouldBeNull();
        before.Single().Error.ShouldBeNull();
        var update = after.Single().Update.ShouldNotBeNull();
        update.LatestTag.ShouldBe("latest");
        update.LatestDigest.ShouldBe(second);
        update.Bump.ShouldBe("digest");
    }

    [Fact]
    public async Task CheckAsync_MultiArchRunningByPlatformOrIndexDigest_ComparesLikeWithLike()
    {
        var repo = TestServices.UniqueRepository("index");
        var (index, platforms) = await _pusher.PushIndexAsync(repo, "stable", ["linux/amd64", "linux/arm64"]);

        var same = await _checker.CheckAsync(
            [Container(repo, "stable", index, id: "by-index"), Container(repo, "stable", platforms["linux/arm64"], id: "by-platform")], CancellationToken.None);
        var (newIndex, _) = await _pusher.PushIndexAsync(repo, "stable", ["linux/amd64", "linux/arm64"]);
        var moved = await _checker.CheckAsync([Container(repo, "stable", platforms["linux/amd64"])], CancellationToken.None);

        same.ShouldAllBe(c => c.Update == null && c.Error == null);
        moved.Single().Update!.LatestDigest.ShouldBe(newIndex);
    }

    [Fact]
    public async Task CheckAsync_SameImageInManyContainers_AsksTheRegistryOnce()
    {
        var repo = TestServices.UniqueRepository("dedupe");
        var digest = await _pusher.PushImageAsync(repo, "3.1.0");
        await _pusher.PushImageAsync(repo, "3.2.0");
        var containers = Enumerable.Range(0, 6).Select(i => Container(repo, "3.1.0", digest, id: "c" + i)).ToList();
        _proxy.ResetCounts();

        var checks = await _checker.CheckAsync(containers, CancellationToken.None);

        checks.Select(c => c.Container.Report.ContainerId).ShouldBe(containers.Select(c => c.Report.ContainerId));
        checks.ShouldAllBe(c => c.Update!.LatestTag == "3.2.0");
        _proxy.Count("GET tags").ShouldBe(1);
        _proxy.Count("HEAD manifest").ShouldBe(1);
    }

    [Fact]
    public async Task CheckAsync_OneImageMissingOneLabelInvalid_ErrorsPerContainerAndTheRestChecked()
    {
        var repo = TestServices.UniqueRepository("mixed");
        var digest = await _pusher.PushImageAsync(repo, "1.0");
        await _pusher.PushImageAsync(repo, "1.1");

        var checks = await _checker.CheckAsync(
        [
            Container(TestServices.UniqueRepository("absent"), "1.0", id: "missing"),
            Container(repo, "1.0", digest, new() { ["tiaki.update"] = "sideways" }, id: "bad-label"),
            Container(repo, "1.0", digest, id: "good"),
            Container(repo, "1.0", digest, new() { ["tiaki.enable"] = "false" }, id: "disabled"),
            Container(repo, "1.0", digest, id: "by-id") with { ImageReference = digest },
        ], CancellationToken.None);

        checks[0].Error!.ShouldContain("not found");
        checks[1].Error!.ShouldContain("tiaki.update=\"sideways\"");
        checks[2].Update!.LatestTag.ShouldBe("1.1");
        checks[3].Update.ShouldBeNull();
        checks[3].Error.ShouldBeNull();
        checks[4].Update.ShouldBeNull();
        checks[4].Error.ShouldBeNull();
        _proxy.Count("GET tags").ShouldBe(2); // the missing and the good repository; disabled and image-ID containers asked nothing
    }

    [Fact]
    public async Task CheckAsync_RegistryUnreachable_ErrorNotException()
    {
        var port = TestServices.FreePort();
        var container = new ScannedContainer(new ContainerReport("x", "x", $"127.0.0.1:{port}/a/b", "1.0", ""), $"127.0.0.1:{port}/a/b:1.0", [], new Dictionary<string, string>());

        var checks = await _checker.CheckAsync([container], CancellationToken.None);

        checks.Single().Error!.ShouldContain("unreachable");
    }
}
