using System.Text;
using Tiaki.Agent.Core.Compose;

namespace Tiaki.Agent.Core.Tests.Compose;

public sealed class ComposeFileEditorTests
{
    // (before, after) for service "web" updated to tag 1.0.1: everything else must stay byte for byte.
    public static TheoryData<string, string, string> Edits => new()
    {
        {
            "plain, comments and other services untouched",
            "# top comment\nservices:\n  web:   # the web\n    image: ghcr.io/acme/web:1.0.0  # pinned\n    ports: ['80:80']\n  db:\n    image: postgres:1.0.0\n",
            "# top comment\nservices:\n  web:   # the web\n    image: ghcr.io/acme/web:1.0.1  # pinned\n    ports: ['80:80']\n  db:\n    image: postgres:1.0.0\n"
        },
        {
            "double quoted",
            "services:\n  web:\n    image: \"127.0.0.1:5000/web:1.0.0\"\n",
            "services:\n  web:\n    image: \"127.0.0.1:5000/web:1.0.1\"\n"
        },
        {
            "single quoted, CRLF line endings",
            "services:\r\n  web:\r\n    image: 'web:1.0.0'\r\n    restart: always\r\n",
            "services:\r\n  web:\r\n    image: 'web:1.0.1'\r\n    restart: always\r\n"
        },
        {
            "no tag means latest; registry port kept",
            "services:\n  web:\n    image: localhost:5000/web\n",
            "services:\n  web:\n    image: localhost:5000/web:1.0.1\n"
        },
        {
            "anchors elsewhere and flow style kept",
            "x-common: &common\n  restart: unless-stopped\nservices:\n  db: {image: 'db:1.0.0', <<: *common}\n  web:\n    <<: *common\n    image: web:1.0.0\n",
            "x-common: &common\n  restart: unless-stopped\nservices:\n  db: {image: 'db:1.0.0', <<: *common}\n  web:\n    <<: *common\n    image: web:1.0.1\n"
        },
        {
            "flow mapping service",
            "services:\n  web: { image: web:1.0.0, init: true }\n",
            "services:\n  web: { image: web:1.0.1, init: true }\n"
        },
        {
            "digest pin dropped with the old tag",
            "services:\n  web:\n    image: web:1.0.0@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
            "services:\n  web:\n    image: web:1.0.1\n"
        },
        {
            "variable in the registry part only",
            "services:\n  web:\n    image: ${REGISTRY:-ghcr.io}/web:1.0.0\n",
            "services:\n  web:\n    image: ${REGISTRY:-ghcr.io}/web:1.0.1\n"
        },
        {
            "tag variable with a default and no .env: the default changes",
            "services:\n  web:\n    image: web:${WEB_TAG:-1.0.0}\n",
            "services:\n  web:\n    image: web:${WEB_TAG:-1.0.1}\n"
        },
    };

    [Theory]
    [MemberData(nameof(Edits))]
    public void PlanTagChange_Service_ChangesOnlyTheTag(string why, string before, string after)
    {
        using var dir = new TempDir();
        var file = dir.File("compose.yml", before);

        var edit = ComposeFileEditor.PlanTagChange(file, "web", "1.0.1");
        edit.Error.ShouldBeNull(why);
        edit.Apply();

        File.ReadAllText(file).ShouldBe(after, why);
        edit.Revert();
        File.ReadAllText(file).ShouldBe(before, why);
    }

    [Fact]
    public void PlanTagChange_Utf8Bom_KeepsTheBom()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "compose.yml");
        File.WriteAllBytes(file, [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes("services:\n  web:\n    image: web:1.0.0 # é\n")]);

        ComposeFileEditor.PlanTagChange(file, "web", "2.0.0").Apply();

        File.ReadAllBytes(file).ShouldBe([.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes("services:\n  web:\n    image: web:2.0.0 # é\n")]);
    }

    [Theory]
    [InlineData("WEB_TAG=1.0.0\nOTHER=x\n", "WEB_TAG=1.0.1\nOTHER=x\n")]
    [InlineData("# tags\nexport WEB_TAG=\"1.0.0\"  # current\n", "# tags\nexport WEB_TAG=\"1.0.1\"  # current\n")]
    public void PlanTagChange_TagFromDotEnv_UpdatesDotEnvOnly(string envBefore, string envAfter)
    {
        using var dir = new TempDir();
        const string compose = "services:\n  web:\n    image: web:${WEB_TAG:-0.9.0}\n";
        var file = dir.File("compose.yml", compose);
        var env = dir.File(".env", envBefore);

        var edit = ComposeFileEditor.PlanTagChange(file, "web", "1.0.1");
        edit.Error.ShouldBeNull();
        edit.Apply();

        File.ReadAllText(env).ShouldBe(envAfter);
        File.ReadAllText(file).ShouldBe(compose);
        edit.OldImage.ShouldBe("web:1.0.0");
        edit.NewImage.ShouldBe("web:1.0.1");
    }

    [Fact]
    public void PlanTagChange_WholeImageFromDotEnv_UpdatesItsTag()
    {
        using var dir = new TempDir();
        var file = dir.File("compose.yml", "services:\n  web:\n    image: ${WEB_IMAGE}\n");
        var env = dir.File(".env", "WEB_IMAGE=ghcr.io/acme/web:1.0.0\n");

        ComposeFileEditor.PlanTagChange(file, "web", "1.0.1").Apply();

        File.ReadAllText(env).ShouldBe("WEB_IMAGE=ghcr.io/acme/web:1.0.1\n");
    }

    [Theory]
    [InlineData("services:\n  web:\n    image: web:${WEB_TAG}\n", "WEB_TAG")]
    [InlineData("services:\n  web:\n    image: ${WEB_IMAGE}\n", "WEB_IMAGE")]
    [InlineData("x: &img web:1.0.0\nservices:\n  web:\n    image: *img\n", "alias")]
    [InlineData("services:\n  web:\n    image: &img web:1.0.0\n  api:\n    image: *img\n", "&img")]
    [InlineData("x-base: &base\n  image: web:1.0.0\nservices:\n  web:\n    <<: *base\n", "merge key")]
    [InlineData("services:\n  api:\n    image: api:1.0.0\n", "not defined")]
    [InlineData("services:\n  web:\n    build: .\n", "no image")]
    [InlineData("services:\n  web:\n    image: [oops\n", "not valid YAML")]
    public void PlanTagChange_UnsafeOrMissing_RefusedWithReason(string compose, string reasonContains)
    {
        using var dir = new TempDir();
        var file = dir.File("compose.yml", compose);

        var edit = ComposeFileEditor.PlanTagChange(file, "web", "1.0.1");

        edit.Succeeded.ShouldBeFalse();
        edit.Error!.ShouldContain(reasonContains);
        File.ReadAllText(file).ShouldBe(compose);
    }

    [Theory]
    [InlineData("1.0.1; rm -rf /")]
    [InlineData("../../etc")]
    [InlineData("")]
    [InlineData("a b")]
    public void PlanTagChange_InvalidTag_Refused(string tag)
    {
        using var dir = new TempDir();
        var file = dir.File("compose.yml", "services:\n  web:\n    image: web:1.0.0\n");

        ComposeFileEditor.PlanTagChange(file, "web", tag).Error!.ShouldContain("not a valid image tag");
    }

    [Fact]
    public void FromLabels_V1RelativeAndV2Absolute_ResolvesBoth()
    {
        ComposeFiles.FromLabels(new Dictionary<string, string>
        {
            ["com.docker.compose.project.config_files"] = "docker-compose.yml",
            ["com.docker.compose.project.working_dir"] = "/srv/app",
        }).ShouldBe(["/srv/app/docker-compose.yml"]);
        ComposeFiles.FromLabels(new Dictionary<string, string>
        {
            ["com.docker.compose.project.config_files"] = "/srv/app/compose.yml,/srv/app/compose.override.yml",
            ["com.docker.compose.project.working_dir"] = "/srv/app",
        }).ShouldBe(["/srv/app/compose.yml", "/srv/app/compose.override.yml"]);
    }

    [Fact]
    public void FileDefiningImage_OverrideSetsImage_PicksOverride()
    {
        using var dir = new TempDir();
        var main = dir.File("compose.yml", "services:\n  web:\n    image: web:1.0.0\n  db:\n    image: db:1\n");
        var over = dir.File("compose.override.yml", "services:\n  web:\n    image: web:1.0.5\n");

        ComposeFiles.FileDefiningImage([main, over], "web").ShouldBe(over);
        ComposeFiles.FileDefiningImage([main, over], "db").ShouldBe(main);
    }
}
