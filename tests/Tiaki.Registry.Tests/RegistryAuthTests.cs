using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Tiaki.Registry.Auth;
using Tiaki.Registry.References;
using Tiaki.Testing.Registry;

namespace Tiaki.Registry.Tests;

/// <summary>Basic (htpasswd) and Bearer (token service) auth against real docker-registry instances started for this class.</summary>
public sealed class RegistryAuthTests : IAsyncLifetime
{
    private const string User = "alice";
    private const string Password = "p4ss-w0rd-secret";
    private RegistryInstance _basic = null!;
    private TokenServer _tokens = null!;
    private RegistryInstance _tokenRegistry = null!;

    public async Task InitializeAsync()
    {
        _basic = await RegistryInstance.StartHtpasswdAsync(User, Password);
        _tokens = await TokenServer.StartAsync(new() { [User] = Password });
        _tokenRegistry = await RegistryInstance.StartTokenAsync(_tokens);
    }

    public async Task DisposeAsync()
    {
        await _basic.DisposeAsync();
        await _tokenRegistry.DisposeAsync();
        await _tokens.DisposeAsync();
    }

    private static AuthenticationHeaderValue BasicHeader(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    private static RegistryClient Client(IRegistryCredentialProvider? credentials, TimeProvider? time = null) =>
        new(new RegistryClientOptions { Credentials = credentials, MaxAttempts = 2, InitialBackoff = TimeSpan.FromMilliseconds(5) }, logger: null, timeProvider: time);

    [Fact]
    public async Task HeadManifestAsync_BasicAuthWithCredentials_Succeeds()
    {
        using var pusher = new ImagePusher(_basic.Host, _ => BasicHeader(User, Password));
        var digest = await pusher.PushImageAsync("team/app", "1.0");
        using var client = Client(new StaticCredentialProvider(_basic.Host, new RegistryCredential(User, Password)));

        var result = await client.HeadManifestAsync(ImageReference.Parse($"{_basic.Host}/team/app:1.0"), CancellationToken.None);

        result.Value!.Digest.ShouldBe(digest);
    }

    [Fact]
    public async Task HeadManifestAsync_BasicAuthWrongPassword_UnauthorizedErrorWithoutSecret()
    {
        using var pusher = new ImagePusher(_basic.Host, _ => BasicHeader(User, Password));
        await pusher.PushImageAsync("team/app2", "1.0");
        using var client = Client(new StaticCredentialProvider(_basic.Host, new RegistryCredential(User, "wrong-secret-xyz")));

        var result = await client.HeadManifestAsync(ImageReference.Parse($"{_basic.Host}/team/app2:1.0"), CancellationToken.None);

        result.Error!.Kind.ShouldBe(RegistryErrorKind.Unauthorized);
        result.Error.Message.ShouldNotContain("wrong-secret-xyz");
        result.Error.Message.ShouldContain(_basic.Host);
    }

    [Fact]
    public async Task HeadManifestAsync_CredentialsFromDockerConfigAuth_UsedForThatRegistryOnly()
    {
        using var pusher = new ImagePusher(_basic.Host, _ => BasicHeader(User, Password));
        var digest = await pusher.PushImageAsync("team/cfg", "2");
        var dir = Directory.CreateTempSubdirectory("tiaki-cfg-").FullName;
        var path = Path.Combine(dir, "config.json");
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}"));
        await File.WriteAllTextAsync(path, "{\"auths\":{\"http://" + _basic.Host + "/v2/\":{\"auth\":\"" + auth + "\"},\"other.example:5000\":{\"username\":\"bob\",\"password\":\"x\"}}}");
        var provider = new DockerConfigCredentialProvider(path);
        using var client = Client(provider);

        var result = await client.HeadManifestAsync(ImageReference.Parse($"{_basic.Host}/team/cfg:2"), CancellationToken.None);

        result.Value!.Digest.ShouldBe(digest);
        (await provider.GetAsync("other.example:5000", CancellationToken.None))!.Username.ShouldBe("bob");
        (await provider.GetAsync("ghcr.io", CancellationToken.None)).ShouldBeNull();
    }

    [Fact]
    public async Task DockerConfigCredentialProvider_CredHelper_RunsDockerCredentialHelperGet()
    {
        var dir = Directory.CreateTempSubdirectory("tiaki-helper-").FullName;
        var name = "tiakitest" + Guid.NewGuid().ToString("N")[..8];
        var helper = Path.Combine(dir, "docker-credential-" + name);
        // The helper echoes the server URL it was asked for, proving stdin carried it.
        await File.WriteAllTextAsync(helper, "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread url\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"u-%s\",\"Secret\":\"s3\"}' \"$url\" \"$url\"\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(helper, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
        var path = Path.Combine(dir, "config.json");
        await File.WriteAllTextAsync(path, $$"""{"credHelpers":{"ghcr.io":"{{name}}"},"credsStore":"{{name}}"}""");
        var runner = new PathRunner(dir);
        var provider = new DockerConfigCredentialProvider(path, runner);

        var ghcr = await provider.GetAsync("ghcr.io", CancellationToken.None);
        var hub = await provider.GetAsync("docker.io", CancellationToken.None);

        ghcr.ShouldBe(new RegistryCredential("u-ghcr.io", "s3"));
        hub!.Username.ShouldBe("u-https://index.docker.io/v1/");
        runner.Calls.ShouldBe(2);
    }

    [Fact]
    public async Task HeadManifestAsync_TokenAuthAnonymous_OneTokenRequestPerScope()
    {
        using var pusher = new ImagePusher(_tokenRegistry.Host, repo => new AuthenticationHeaderValue("Bearer", _tokens.Mint(repo)));
        var a = await pusher.PushImageAsync("lib/a", "1");
        var b = await pusher.PushImageAsync("lib/b", "1");
        _tokens.RequestsByScope.Clear();
        using var client = Client(null);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            client.HeadManifestAsync(ImageReference.Parse($"{_tokenRegistry.Host}/lib/{(i % 2 == 0 ? "a" : "b")}:1"), CancellationToken.None)));

        results.Where((_, i) => i % 2 == 0).ShouldAllBe(r => r.Value!.Digest == a);
        results.Where((_, i) => i % 2 == 1).ShouldAllBe(r => r.Value!.Digest == b);
        _tokens.RequestsByScope["repository:lib/a:pull"].ShouldBe(1);
        _tokens.RequestsByScope["repository:lib/b:pull"].ShouldBe(1);
        _tokens.SeenAuthorization.ShouldAllBe(h => h == null);
    }

    [Fact]
    public async Task HeadManifestAsync_TokenAuthWithCredentials_SendsBasicToTokenServiceOnly()
    {
        _tokens.AllowAnonymousPull = false;
        using var pusher = new ImagePusher(_tokenRegistry.Host, repo => new AuthenticationHeaderValue("Bearer", _tokens.Mint(repo)));
        var digest = await pusher.PushImageAsync("private/app", "3");
        using var anonymous = Client(null);
        using var client = Client(new StaticCredentialProvider(_tokenRegistry.Host, new RegistryCredential(User, Password)));

        var denied = await anonymous.HeadManifestAsync(ImageReference.Parse($"{_tokenRegistry.Host}/private/app:3"), CancellationToken.None);
        var allowed = await client.HeadManifestAsync(ImageReference.Parse($"{_tokenRegistry.Host}/private/app:3"), CancellationToken.None);

        denied.Error!.Kind.ShouldBe(RegistryErrorKind.Unauthorized);
        allowed.Value!.Digest.ShouldBe(digest);
        _tokens.SeenAuthorization.ShouldContain(BasicHeader(User, Password).ToString());
        _tokens.AllowAnonymousPull = true;
    }

    [Fact]
    public async Task HeadManifestAsync_IdentityTokenInDockerConfig_UsesRefreshTokenGrant()
    {
        _tokens.AllowAnonymousPull = false;
        _tokens.RefreshTokens["refresh-abc-123"] = User;
        using var pusher = new ImagePusher(_tokenRegistry.Host, repo => new AuthenticationHeaderValue("Bearer", _tokens.Mint(repo)));
        var digest = await pusher.PushImageAsync("private/oauth", "1");
        var dir = Directory.CreateTempSubdirectory("tiaki-cfg-").FullName;
        var path = Path.Combine(dir, "config.json");
        await File.WriteAllTextAsync(path, "{\"auths\":{\"" + _tokenRegistry.Host + "\":{\"identitytoken\":\"refresh-abc-123\"}}}");
        using var client = Client(new DockerConfigCredentialProvider(path));

        var result = await client.HeadManifestAsync(ImageReference.Parse($"{_tokenRegistry.Host}/private/oauth:1"), CancellationToken.None);

        _tokens.AllowAnonymousPull = true;
        result.Value!.Digest.ShouldBe(digest);
        _tokens.RefreshGrants.ShouldBe(1);
    }

    [Fact]
    public async Task HeadManifestAsync_TokenExpired_FetchesANewOne()
    {
        using var pusher = new ImagePusher(_tokenRegistry.Host, repo => new AuthenticationHeaderValue("Bearer", _tokens.Mint(repo)));
        await pusher.PushImageAsync("lib/expiring", "1");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var client = Client(null, time);
        var reference = ImageReference.Parse($"{_tokenRegistry.Host}/lib/expiring:1");

        await client.HeadManifestAsync(reference, CancellationToken.None);
        await client.HeadManifestAsync(reference, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(_tokens.ExpiresInSeconds));
        (await client.HeadManifestAsync(reference, CancellationToken.None)).IsSuccess.ShouldBeTrue();

        _tokens.RequestsByScope["repository:lib/expiring:pull"].ShouldBe(2);
    }

    private sealed class PathRunner(string dir) : IProcessRunner
    {
        private readonly ProcessRunner _inner = new();
        public int Calls { get; private set; }

        public Task<ProcessResult> RunAsync(string fileName, IReadOnlyList<string> arguments, string? standardInput, TimeSpan timeout, CancellationToken cancellationToken)
        {
            Calls++;
            // Resolves the helper in the test's directory as PATH would, without changing this process's PATH.
            return _inner.RunAsync(Path.Combine(dir, fileName), arguments, standardInput, timeout, cancellationToken);
        }
    }
}
