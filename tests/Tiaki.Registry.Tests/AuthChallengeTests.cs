using Tiaki.Registry.Auth;

namespace Tiaki.Registry.Tests;

public sealed class AuthChallengeTests
{
    [Fact]
    public void ParseParameters_DockerHubChallenge_ReadsQuotedValuesWithCommas()
    {
        var p = AuthChallenge.ParseParameters("realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/nginx:pull,push\"");

        p["realm"].ShouldBe("https://auth.docker.io/token");
        p["service"].ShouldBe("registry.docker.io");
        p["scope"].ShouldBe("repository:library/nginx:pull,push");
    }

    [Fact]
    public void RegistryCredential_ToString_HidesSecrets()
    {
        var text = new RegistryCredential("alice", "s3cret-pass", "refresh-tok").ToString();

        text.ShouldContain("alice");
        text.ShouldNotContain("s3cret-pass");
        text.ShouldNotContain("refresh-tok");
    }
}
