using System.Text;
using Tiaki.Agent.Kubernetes.Runtime;

namespace Tiaki.Agent.Kubernetes.Tests.Runtime;

public sealed class PullSecretParseTests
{
    private const string Password = "s3cr3t-value";

    private static Dictionary<string, byte[]> Data(string key, string json) => new() { [key] = Encoding.UTF8.GetBytes(json) };

    private static string Auth(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    [Fact]
    public void Parse_DockerConfigJsonWithAuthOnly_DecodesUserAndPassword()
    {
        var (credentials, error) = PullSecret.Parse(PullSecret.DockerConfigJsonType,
            Data(".dockerconfigjson", "{\"auths\":{\"ghcr.io\":{\"auth\":\"" + Auth("bot", "pa:ss") + "\"}}}"));

        error.ShouldBeNull();
        credentials["ghcr.io"].Username.ShouldBe("bot");
        credentials["ghcr.io"].Password.ShouldBe("pa:ss");
    }

    [Fact]
    public void Parse_DockerCfgWithUsernameAndPassword_OneCredentialPerRegistry()
    {
        var (credentials, error) = PullSecret.Parse(PullSecret.DockerCfgType,
            Data(".dockercfg", $$$"""{"https://index.docker.io/v1/":{"username":"hub","password":"{{{Password}}}","email":"a@b"},"quay.io":{"email":"only@mail"}}"""));

        error.ShouldBeNull();
        credentials.Keys.ShouldBe(["https://index.docker.io/v1/"]);
        credentials["https://index.docker.io/v1/"].Password.ShouldBe(Password);
    }

    [Theory]
    [InlineData("kubernetes.io/dockerconfigjson", ".dockerconfigjson", "{\"auths\": {\"ghcr.io\": {\"auth\": \"" + Password, "not valid JSON")]
    [InlineData("kubernetes.io/dockerconfigjson", ".dockerconfigjson", "{\"registries\": {}}", "no auths object")]
    [InlineData("kubernetes.io/dockerconfigjson", ".other", "{}", "has no .dockerconfigjson key")]
    [InlineData("Opaque", ".dockerconfigjson", "{}", "not kubernetes.io/dockerconfigjson")]
    [InlineData("kubernetes.io/dockercfg", ".dockercfg", "{\"ghcr.io\": {\"email\": \"x\"}}", "no usable credential")]
    public void Parse_UnusableSecret_SaysWhyWithoutQuotingIt(string type, string key, string json, string expected)
    {
        var (credentials, error) = PullSecret.Parse(type, Data(key, json));

        credentials.ShouldBeEmpty();
        error.ShouldNotBeNull().ShouldContain(expected);
        error.ShouldNotContain(Password);
    }
}
