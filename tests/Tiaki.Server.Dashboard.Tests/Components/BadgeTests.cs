using Bunit;
using Tiaki.Server.Components.Shared;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Updates;

namespace Tiaki.Server.Dashboard.Tests.Components;

/// <summary>The words and colours a user reads for update statuses, bump kinds and deploy progress.</summary>
public sealed class BadgeTests : MudContext
{
    [Theory]
    [InlineData(UpdateStatuses.Pending, "Update available", "info")]
    [InlineData(UpdateStatuses.Deploying, "Deploying", "warning")]
    [InlineData(UpdateStatuses.Deployed, "Deployed", "success")]
    [InlineData(UpdateStatuses.Failed, "Failed", "error")]
    [InlineData(UpdateStatuses.Ignored, "Ignored", "default")]
    [InlineData(UpdateStatuses.RolledBack, "Rolled back", "secondary")]
    [InlineData(null, "Up to date", "success")]
    public void StatusBadge_EachStatus_ShowsItsLabelAndColour(string? status, string label, string colour)
    {
        var cut = Render<StatusBadge>(p => p.Add(x => x.Status, status));

        var chip = cut.Find("[data-testid=status-badge]");
        chip.TextContent.Trim().ShouldBe(label);
        chip.ClassList.ShouldContain($"mud-chip-color-{colour}");
    }

    [Fact]
    public void StatusBadge_UnknownStatus_ShowsTheRawStatusNotABlank()
    {
        var cut = Render<StatusBadge>(p => p.Add(x => x.Status, "paused"));

        cut.Find("[data-testid=status-badge]").TextContent.Trim().ShouldBe("paused");
    }

    [Theory]
    [InlineData("major", "major", "error")]
    [InlineData("MINOR", "minor", "warning")]
    [InlineData("patch", "patch", "success")]
    [InlineData("digest", "digest", "info")]
    [InlineData(null, "unknown", "default")]
    [InlineData("weird", "unknown", "default")]
    public void BumpChip_Kind_ShowsNormalisedKindWithRiskColour(string? bump, string label, string colour)
    {
        var cut = Render<BumpChip>(p => p.Add(x => x.Bump, bump));

        var chip = cut.Find("[data-testid=bump]");
        chip.TextContent.Trim().ShouldBe(label);
        chip.ClassList.ShouldContain($"mud-chip-color-{colour}");
    }

    [Theory]
    [InlineData("deploy", CommandStatuses.Queued, "queued", "Queued")]
    [InlineData("deploy", CommandStatuses.Leased, "delivered", "Delivered · deploying")]
    [InlineData("deploy", CommandStatuses.Succeeded, "deployed", "Deployed")]
    [InlineData("deploy", CommandStatuses.Failed, "failed", "Failed")]
    [InlineData("rollback", CommandStatuses.Succeeded, "rolled_back", "Rolled back")]
    public void DeployProgress_CommandState_HighlightsTheCurrentStep(string type, string commandStatus, string step, string currentLabel)
    {
        var deployment = new DeploymentDto("c1", type, commandStatus, 1, DateTimeOffset.UtcNow, null, null, null);

        var cut = Render<DeployProgress>(p => p.Add(x => x.Deployment, deployment));

        cut.Find("[data-testid=deploy-progress]").GetAttribute("data-step").ShouldBe(step);
        // The current step is the one filled; earlier ones are done, later ones greyed out.
        var filled = cut.FindAll(".mud-chip-filled");
        filled.Count.ShouldBe(1);
        filled[0].TextContent.Trim().ShouldBe(currentLabel);
    }

    [Fact]
    public void DeployProgress_NothingSent_NoStepIsCurrent()
    {
        var cut = Render<DeployProgress>(p => p.Add(x => x.Deployment, null));

        cut.Find("[data-testid=deploy-progress]").GetAttribute("data-step").ShouldBe("none");
        cut.FindAll(".mud-chip-filled").ShouldBeEmpty();
    }
}
