using Bunit;
using Tiaki.Server.Components.Shared;
using Tiaki.Server.Features.Agents;
using Tiaki.Server.Features.Reports;

namespace Tiaki.Server.Dashboard.Tests.Components;

public sealed class ContainerFilterBarTests : MudContext
{
    private static readonly AgentDto[] Agents =
    [
        new("a1", "edge-1", "vm", null, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, true, 3, 1),
        new("a2", "k8s-prod", "k8s", null, DateTimeOffset.UtcNow, null, false, 0, 0),
    ];

    private (IRenderedComponent<ContainerFilterBar> Cut, List<ContainerQuery> Changes) RenderBar(ContainerQuery start)
    {
        var changes = new List<ContainerQuery>();
        var cut = Render<ContainerFilterBar>(p => p
            .Add(x => x.Value, start)
            .Add(x => x.Agents, Agents)
            .Add(x => x.ValueChanged, (ContainerQuery q) => changes.Add(q)));
        return (cut, changes);
    }

    [Fact]
    public void HasUpdateSwitch_Toggled_FiltersAndGoesBackToFirstPage()
    {
        var (cut, changes) = RenderBar(new ContainerQuery(Skip: 150, Take: 50));

        cut.Find("[data-testid=has-update]").Change(true);

        changes.ShouldHaveSingleItem().ShouldBe(new ContainerQuery(HasUpdate: true, Skip: 0, Take: 50));
    }

    [Fact]
    public void Search_Typed_IsTrimmedAndResetsPaging()
    {
        var (cut, changes) = RenderBar(new ContainerQuery(AgentId: "a1", Skip: 50, Take: 50));

        cut.Find("[data-testid=search]").Input("  nginx ");

        changes.ShouldHaveSingleItem().ShouldBe(new ContainerQuery(AgentId: "a1", Search: "nginx", Skip: 0, Take: 50));
    }

    [Fact]
    public void Search_Cleared_RemovesTheFilter()
    {
        var (cut, changes) = RenderBar(new ContainerQuery(Search: "redis", Take: 50));

        cut.Find("[data-testid=search]").Input("   ");

        cut.WaitForAssertion(() => changes.ShouldHaveSingleItem().Search.ShouldBeNull());
    }

    [Fact]
    public void HostSelect_ListsAllHostsThenEveryAgent_PickingOneFilters()
    {
        var popovers = Render<MudBlazor.MudPopoverProvider>();
        var (cut, changes) = RenderBar(new ContainerQuery(Take: 50));

        cut.Find("[data-testid=host-filter]").MouseDown();
        popovers.WaitForAssertion(() =>
            popovers.FindAll(".mud-list-item").Select(i => i.TextContent.Trim()).ShouldBe(["All hosts", "edge-1", "k8s-prod"]));
        popovers.FindAll(".mud-list-item")[2].Click();
        cut.WaitForAssertion(() => changes.ShouldHaveSingleItem().AgentId.ShouldBe("a2"));
    }
}
