using System.Net.Http.Headers;
using Microsoft.Extensions.Time.Testing;
using Tiaki.Registry.Auth;
using Tiaki.Registry.Manifests;
using Tiaki.Registry.References;
using Tiaki.Testing.Registry;

namespace Tiaki.Registry.Tests;

/// <summary>The client against the real shared registry (anonymous), reached through a counting proxy.</summary>
public sealed class RegistryClientTests : IAsyncLifetime
{
    private readonly string _upstream = TestServices.SharedRegistry;
    private RegistryProxy _proxy = null!;
    private ImagePusher _pusher = null!;

    public async Task InitializeAsync()
    {
        _proxy = await RegistryProxy.StartAsync(_upstream);
        _pusher = new ImagePusher(_upstream);
    }

    public async Task DisposeAsync()
    {
        _pusher.Dispose();
        await _proxy.DisposeAsync();
    }

    private RegistryClient Client(TimeProvider? time = null, int attempts = 3) =>
        new(new RegistryClientOptions { MaxAttempts = attempts, InitialBackoff = TimeSpan.FromMilliseconds(5), MaxBackoff = TimeSpan.FromMinutes(5) }, logger: null, timeProvider: time);

    private ImageReference Ref(string repository, string tag) => ImageReference.Parse($"{_proxy.Host}/{repository}:{tag}");

    [Fact]
    public async Task HeadManifestAsync_PushedImage_ReturnsItsDigestWithOneManifestRequest()
    {
        var repo = TestServices.UniqueRepository("head");
        var digest = await _pusher.PushImageAsync(repo, "1.0.0");
        using var client = Client();

        var result = await client.HeadManifestAsync(Ref(repo, "1.0.0"), CancellationToken.None);

        result.IsSuccess.ShouldBeTrue(result.Error?.Message);
        result.Value.Digest.ShouldBe(digest);
        result.Value.MediaType.ShouldBe(MediaTypes.OciManifest);
        _proxy.Count("HEAD manifest").ShouldBe(1);
        _proxy.Count("GET manifest").ShouldBe(0);
    }

    [Fact]
    public async Task HeadManifestAsync_RegistryRefusesHead_FallsBackToGetAndHashesTheBody()
    {
        var repo = TestServices.UniqueRepository("fallback");
        var digest = await _pusher.PushImageAsync(repo, "v1", new ImageSpec { DockerMediaTypes = true });
        _proxy.FailNext(r => r.Method == "HEAD", 405);
        using var client = Client();

        var result = await client.HeadManifestAsync(Ref(repo, "v1"), CancellationToken.None);

        result.Value!.Digest.ShouldBe(digest);
        result.Value.MediaType.ShouldBe(MediaTypes.DockerManifest);
        _proxy.Count("GET manifest").ShouldBe(1);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ResolveAsync_MultiArchImage_ReturnsIndexDigestAndHostPlatformDigest(bool dockerManifestList)
    {
        var repo = TestServices.UniqueRepository("multi");
        var (index, platforms) = await _pusher.PushIndexAsync(repo, "2.0", ["linux/amd64", "linux/arm64", "linux/arm/v7"], dockerManifestList);
        using var client = Client();

        var arm = await client.ResolveAsync(Ref(repo, "2.0"), new Platform("linux", "arm", "v7"), CancellationToken.None);
        var arm64 = await client.ResolveAsync(Ref(repo, "2.0"), new Platform("linux", "arm64"), CancellationToken.None);

        arm.Value!.Digest.ShouldBe(index);
        arm.Value.MediaType.ShouldBe(dockerManifestList ? MediaTypes.DockerManifestList : MediaTypes.OciIndex);
        arm.Value.PlatformDigest.ShouldBe(platforms["linux/arm/v7"]);
        arm64.Value!.PlatformDigest.ShouldBe(platforms["linux/arm64"]);
    }

    [Fact]
    public async Task GetImageConfigAsync_PushedImage_ReadsLabelsAndCreated()
    {
        var repo = TestServices.UniqueRepository("config");
        var created = new DateTimeOffset(2025, 6, 7, 8, 9, 10, TimeSpan.Zero);
        await _pusher.PushImageAsync(repo, "1", new ImageSpec { Created = created, Labels = new() { ["org.opencontainers.image.source"] = "https://github.com/acme/app" } });
        using var client = Client();

        var manifest = await client.GetManifestAsync(Ref(repo, "1"), CancellationToken.None);
        var config = await client.GetImageConfigAsync(Ref(repo, "1"), manifest.Value!.ConfigDigest!, CancellationToken.None);

        config.Value!.Created.ShouldBe(created);
        config.Value.Labels["org.opencontainers.image.source"].ShouldBe("https://github.com/acme/app");
    }

    [Fact]
    public async Task HeadManifestAsync_UnknownTag_ReturnsNotFoundErrorNotException()
    {
        var repo = TestServices.UniqueRepository("missing");
        await _pusher.PushImageAsync(repo, "1");
        using var client = Client();

        var result = await client.HeadManifestAsync(Ref(repo, "nope"), CancellationToken.None);

        result.IsSuccess.ShouldBeFalse();
        result.Error.Kind.ShouldBe(RegistryErrorKind.NotFound);
        result.Error.Temporary.ShouldBeFalse();
        result.Error.Message.ShouldContain("nope");
    }

    [Fact]
    public async Task ListTagsAsync_TenThousandTagsPagedByLink_ReturnsEveryTag()
    {
        // A private registry whose storage we fill directly: 10,000 manifest PUTs would take most of a minute.
        await using var registry = await RegistryInstance.StartAnonymousAsync();
        await using var proxy = await RegistryProxy.StartAsync(registry.Host);
        using var pusher = new ImagePusher(registry.Host);
        var digest = await pusher.PushImageAsync("many/tags", "0.0.0");
        var tagsDir = Path.Combine(registry.StorageRoot, "docker/registry/v2/repositories/many/tags/_manifests/tags");
        // The registry lists tag directories by name; a tag directory is all a tag list needs.
        for (var i = 1; i <= 10_000; i++)
            Directory.CreateDirectory(Path.Combine(tagsDir, $"1.{i / 100}.{i % 100}"));
        proxy.TagPageLimit = 1000;
        using var client = new RegistryClient(new RegistryClientOptions { TagPageSize = 5000 });

        var tags = await client.ListTagsAsync(ImageReference.Parse($"{proxy.Host}/many/tags"), CancellationToken.None);

        tags.Value!.Count.ShouldBe(10_001);
        tags.Value.Distinct().Count().ShouldBe(10_001);
        tags.Value.ShouldContain("1.99.99");
        proxy.Count("GET tags").ShouldBe(11);
    }

    [Fact]
    public async Task HeadManifestAsync_TooManyRequestsThenOk_RetriesAndSucceeds()
    {
        var repo = TestServices.UniqueRepository("retry");
        var digest = await _pusher.PushImageAsync(repo, "1");
        _proxy.FailNext(r => r.Method == "HEAD", 429, times: 2, retryAfter: "0");
        using var client = Client();

        var result = await client.HeadManifestAsync(Ref(repo, "1"), CancellationToken.None);

        result.Value!.Digest.ShouldBe(digest);
        _proxy.Count("HEAD manifest").ShouldBe(3);
    }

    [Fact]
    public async Task HeadManifestAsync_ServerErrorsBeyondAttempts_ReturnsTemporaryErrorAfterBoundedRetries()
    {
        var repo = TestServices.UniqueRepository("5xx");
        await _pusher.PushImageAsync(repo, "1");
        _proxy.FailNext(r => r.Method == "HEAD", 503, times: 10);
        using var client = Client(attempts: 3);

        var result = await client.HeadManifestAsync(Ref(repo, "1"), CancellationToken.None);

        result.Error!.Kind.ShouldBe(RegistryErrorKind.ServerError);
        result.Error.Temporary.ShouldBeTrue();
        _proxy.Count("HEAD manifest").ShouldBe(3);
    }

    [Fact]
    public async Task HeadManifestAsync_RetryAfterSeconds_WaitsThatLongBeforeRetrying()
    {
        var repo = TestServices.UniqueRepository("retryafter");
        await _pusher.PushImageAsync(repo, "1");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var timed = new RegistryClient(new RegistryClientOptions { MaxAttempts = 3, InitialBackoff = TimeSpan.FromMilliseconds(1), MaxBackoff = TimeSpan.FromMinutes(5) }, logger: null, timeProvider: time);
        _proxy.FailNext(r => r.Method == "HEAD", 429, retryAfter: "120");
        _proxy.ResetCounts();

        var call = timed.HeadManifestAsync(Ref(repo, "1"), CancellationToken.None);
        await WaitUntil(() => _proxy.Count("HEAD manifest") == 1);
        await Task.Delay(300); // let the client register its backoff timer on the fake clock
        time.Advance(TimeSpan.FromSeconds(100));
        await Task.Delay(300);
        _proxy.Count("HEAD manifest").ShouldBe(1, "retried before Retry-After elapsed");
        time.Advance(TimeSpan.FromSeconds(21));

        (await call.WaitAsync(TimeSpan.FromSeconds(10))).IsSuccess.ShouldBeTrue();
        _proxy.Count("HEAD manifest").ShouldBe(2);
    }

    [Fact]
    public async Task HeadManifestAsync_LoopbackHostListedAsInsecure_ReachedOverPlainHttp()
    {
        var repo = TestServices.UniqueRepository("insecure");
        var digest = await _pusher.PushImageAsync(repo, "1");
        using var client = new RegistryClient(new RegistryClientOptions { InsecureRegistries = [_proxy.Host] });

        var result = await client.HeadManifestAsync(Ref(repo, "1"), CancellationToken.None);

        result.Value!.Digest.ShouldBe(digest);
    }

    [Fact]
    public async Task HeadManifestAsync_ManyParallelCalls_NeverMoreInFlightThanTheRegistryLimit()
    {
        var repo = TestServices.UniqueRepository("bounded");
        var digests = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => _pusher.PushImageAsync(repo, $"t{i}")));
        using var client = new RegistryClient(new RegistryClientOptions { MaxConcurrencyPerRegistry = 3 });
        _proxy.Delay = TimeSpan.FromMilliseconds(40);
        _proxy.ResetCounts();

        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => client.HeadManifestAsync(Ref(repo, $"t{i}"), CancellationToken.None)));

        results.Select(r => r.Value!.Digest).ShouldBe(digests);
        _proxy.MaxInFlight.ShouldBeLessThanOrEqualTo(3);
        _proxy.MaxInFlight.ShouldBeGreaterThan(1);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++) await Task.Delay(25);
        condition().ShouldBeTrue();
    }
}
