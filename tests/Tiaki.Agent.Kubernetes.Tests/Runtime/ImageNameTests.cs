using Tiaki.Agent.Kubernetes.Runtime;

namespace Tiaki.Agent.Kubernetes.Tests.Runtime;

public sealed class ImageNameTests
{
    [Theory]
    [InlineData("nginx", "nginx", null, null)]
    [InlineData("nginx:1.25", "nginx", "1.25", null)]
    [InlineData("127.0.0.1:5000/k8s/app", "127.0.0.1:5000/k8s/app", null, null)]
    [InlineData("127.0.0.1:5000/k8s/app:1.0.0", "127.0.0.1:5000/k8s/app", "1.0.0", null)]
    [InlineData("ghcr.io/org/app:2@sha256:abc", "ghcr.io/org/app", "2", "sha256:abc")]
    [InlineData("ghcr.io/org/app@sha256:abc", "ghcr.io/org/app", null, "sha256:abc")]
    public void Parse_PodSpecImage_SplitsRepositoryTagAndDigest(string reference, string repository, string? tag, string? digest) =>
        ImageName.Parse(reference).ShouldBe(new ImageName(repository, tag, digest));

    [Theory]
    [InlineData("docker-pullable://nginx@sha256:abc", "sha256:abc", "nginx@sha256:abc")]
    [InlineData("docker.io/library/nginx@sha256:abc", "sha256:abc", "docker.io/library/nginx@sha256:abc")]
    [InlineData("sha256:abc", "sha256:abc", null)]
    [InlineData("", null, null)]
    public void ImageId_EachRuntimesFormat_GivesDigestAndRepoDigest(string imageId, string? digest, string? repoDigest)
    {
        ImageName.DigestOfImageId(imageId).ShouldBe(digest);
        ImageName.RepoDigestOfImageId(imageId).ShouldBe(repoDigest);
    }
}
