using System.Collections;
using Tiaki.Agent.Core.Configuration;

namespace Tiaki.Agent.Core.Tests.Configuration;

public sealed class AgentOptionsTests
{
    [Fact]
    public void FromEnvironment_ManyBadSettings_EveryOneNamed()
    {
        var (options, errors) = AgentOptions.FromEnvironment(new Hashtable
        {
            ["CONTROL_URL"] = "ftp://nope",
            ["AGENT_STATE_DIR"] = "relative/dir",
            ["SCAN_INTERVAL"] = "soon",
            ["HEALTH_TIMEOUT"] = "-5",
            ["TRIVY_ENABLED"] = "maybe",
            ["GIT_COMMIT"] = "perhaps",
            ["GIT_AUTHOR_EMAIL"] = "not-an-email",
            ["REGISTRY_AUTH_FILE"] = "/does/not/exist.json",
            ["DOCKER_HOST"] = "ssh//broken",
        });

        options.ShouldBeNull();
        var named = errors.Select(e => e[..e.IndexOf(':')]).ToList();
        named.ShouldBe(["CONTROL_URL", "AGENT_STATE_DIR", "AGENT_API_KEY", "SCAN_INTERVAL", "HEALTH_TIMEOUT", "TRIVY_ENABLED", "GIT_COMMIT",
            "REGISTRY_AUTH_FILE", "GIT_AUTHOR_EMAIL", "DOCKER_HOST"], ignoreOrder: true);
    }

    [Fact]
    public void FromEnvironment_Minimal_Defaults()
    {
        var (options, errors) = AgentOptions.FromEnvironment(new Hashtable { ["CONTROL_URL"] = "http://tiaki:3001", ["AGENT_API_KEY"] = "k" });

        errors.ShouldBeEmpty();
        options!.ScanInterval.ShouldBe(TimeSpan.FromMinutes(5));
        options.HealthTimeout.ShouldBe(TimeSpan.FromSeconds(30));
        options.GitCommit.ShouldBeTrue();
        options.TrivyEnabled.ShouldBeFalse();
        options.DockerHost.ShouldBe("unix:///var/run/docker.sock");
    }

    [Fact]
    public void FromEnvironment_EnrollmentTokenAndDurations_Parsed()
    {
        var (options, errors) = AgentOptions.FromEnvironment(new Hashtable
        {
            ["CONTROL_URL"] = "https://tiaki.example",
            ["TIAKI_ENROLLMENT_TOKEN"] = "enroll",
            ["AGENT_NAME"] = "host-1",
            ["SCAN_INTERVAL"] = "90",
            ["HEALTH_TIMEOUT"] = "2s",
            ["TRIVY_ENABLED"] = "true",
        });

        errors.ShouldBeEmpty();
        options!.AgentName.ShouldBe("host-1");
        options.ScanInterval.ShouldBe(TimeSpan.FromSeconds(90));
        options.HealthTimeout.ShouldBe(TimeSpan.FromSeconds(2));
        options.TrivyEnabled.ShouldBeTrue();
    }

    [Fact]
    public void FromEnvironment_KeyStoredByEarlierRegistration_NoKeyNeeded()
    {
        var (options, errors) = AgentOptions.FromEnvironment(new Hashtable { ["CONTROL_URL"] = "http://x", ["AGENT_STATE_DIR"] = "/state" }, dir => dir == "/state");

        errors.ShouldBeEmpty();
        options.ShouldNotBeNull();
    }
}
