using Tiaki.Registry.References;

namespace Tiaki.Registry.Tests;

public sealed class ImageReferenceTests
{
    [Theory]
    [InlineData("nginx", "docker.io", "registry-1.docker.io", "library/nginx", "latest", null, "docker.io/library/nginx:latest")]
    [InlineData("nginx:1.25-alpine", "docker.io", "registry-1.docker.io", "library/nginx", "1.25-alpine", null, "docker.io/library/nginx:1.25-alpine")]
    [InlineData("bitnami/redis:7", "docker.io", "registry-1.docker.io", "bitnami/redis", "7", null, "docker.io/bitnami/redis:7")]
    [InlineData("docker.io/nginx", "docker.io", "registry-1.docker.io", "library/nginx", "latest", null, "docker.io/library/nginx:latest")]
    [InlineData("index.docker.io/library/nginx:1", "docker.io", "registry-1.docker.io", "library/nginx", "1", null, "docker.io/library/nginx:1")]
    [InlineData("ghcr.io/org/app:v1.2.3", "ghcr.io", "ghcr.io", "org/app", "v1.2.3", null, "ghcr.io/org/app:v1.2.3")]
    [InlineData("localhost/app", "localhost", "localhost", "app", "latest", null, "localhost/app:latest")]
    [InlineData("localhost:5000/a/b/c:tag", "localhost:5000", "localhost:5000", "a/b/c", "tag", null, "localhost:5000/a/b/c:tag")]
    [InlineData("127.0.0.1:5000/app:1.0", "127.0.0.1:5000", "127.0.0.1:5000", "app", "1.0", null, "127.0.0.1:5000/app:1.0")]
    [InlineData("Registry.Example.com/app", "Registry.Example.com", "Registry.Example.com", "app", "latest", null, "Registry.Example.com/app:latest")]
    [InlineData("my_org/my-app__x.y:T_1", "docker.io", "registry-1.docker.io", "my_org/my-app__x.y", "T_1", null, "docker.io/my_org/my-app__x.y:T_1")]
    [InlineData("host:5000/app:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "host:5000", "host:5000", "app", "1.0",
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "host:5000/app:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io", "registry-1.docker.io", "library/nginx", null,
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void Parse_ValidReference_NormalisesLikeDocker(string input, string registry, string apiHost, string repository, string? tag, string? digest, string canonical)
    {
        var reference = ImageReference.Parse(input);

        reference.Registry.ShouldBe(registry);
        reference.ApiHost.ShouldBe(apiHost);
        reference.Repository.ShouldBe(repository);
        reference.Tag.ShouldBe(tag);
        reference.Digest.ShouldBe(digest);
        reference.ToString().ShouldBe(canonical);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("Nginx", "lowercase")]
    [InlineData("ghcr.io/Org/app", "lowercase")]
    [InlineData("nginx:", "tag")]
    [InlineData("nginx:-bad", "tag")]
    [InlineData("nginx:" + "a123456789a123456789a123456789a123456789a123456789a123456789a123456789a123456789a123456789a123456789a123456789a123456789a1234567890", "tag")]
    [InlineData("nginx@sha256:abc", "digest")]
    [InlineData("nginx@md5", "digest")]
    [InlineData("ghcr.io/", "repository name is missing")]
    [InlineData("a//b", "path component")]
    [InlineData("app-/x", "path component")]
    [InlineData("bad_host:5000x/app", "registry")]
    public void TryParse_InvalidReference_SaysWhatIsWrong(string input, string expected)
    {
        ImageReference.TryParse(input, out var parsed, out var error).ShouldBeFalse();

        parsed.ShouldBeNull();
        error!.ShouldContain(expected);
    }

    [Fact]
    public void Parse_InvalidReference_ThrowsFormatExceptionNamingIt()
    {
        var e = Should.Throw<FormatException>(() => ImageReference.Parse("UPPER/case"));
        e.Message.ShouldContain("UPPER/case");
    }

    [Fact]
    public void WithTag_KeepsRepositoryAndDropsDigest()
    {
        var reference = ImageReference.Parse("ghcr.io/org/app:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

        reference.WithTag("2.0").ToString().ShouldBe("ghcr.io/org/app:2.0");
    }
}
