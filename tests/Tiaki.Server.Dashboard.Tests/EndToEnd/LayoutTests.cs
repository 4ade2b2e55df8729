using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Tiaki.Server.Dashboard.Tests.EndToEnd;

/// <summary>The dashboard on a phone, in the dark theme.</summary>
public sealed class LayoutTests(DashboardServer server) : IClassFixture<DashboardServer>
{
    [Fact]
    public async Task Dashboard_PhoneWidthAndDarkTheme_PagesStayUsable()
    {
        using var agent = await server.EnrollAgentAsync("phone-host");
        await agent.ReportAsync(DashboardFlowTests.Containers.Take(2).ToList(), DashboardFlowTests.Updates.Take(2).ToList());
        await using var context = await server.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 375, Height = 812 },
            ColorScheme = ColorScheme.Dark,
        });
        var page = await context.NewPageAsync();
        await DashboardFlowTests.LoginAsync(page, server);

        foreach (var (path, name) in new[] { ("/", "overview"), ("/containers", "containers"), ("/updates", "updates") })
        {
            await page.GotoAsync(path);
            await DashboardFlowTests.ReadyAsync(page);
            await Expect(page.Locator("h1, .mud-typography-h4").First).ToBeVisibleAsync();
            // Nothing wider than the phone: the page does not scroll sideways.
            var overflow = await page.EvaluateAsync<int>("document.documentElement.scrollWidth - window.innerWidth");
            overflow.ShouldBeLessThanOrEqualTo(0, $"{path} scrolls sideways by {overflow}px at 375px");
            await Screenshots.TakeAsync(page, $"20-mobile-dark-{name}");
        }

        // Dark theme follows the system (ColorScheme.Dark): the app bar is not the light theme's teal.
        var background = await page.EvaluateAsync<string>("getComputedStyle(document.querySelector('.mud-layout') || document.body).backgroundColor");
        background.ShouldNotBe("rgb(255, 255, 255)");
    }

}

/// <summary>Creating an agent from the dashboard.</summary>
public sealed class AgentPageTests(DashboardServer server) : IClassFixture<DashboardServer>
{
    [Fact]
    public async Task CreateAgent_FromTheForm_ShowsItsKeyOnceWithADockerRunSnippet()
    {
        await using var context = await server.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1366, Height = 900 },
        });
        var page = await context.NewPageAsync();
        await DashboardFlowTests.LoginAsync(page, server);
        await page.GotoAsync("/agents");
        await DashboardFlowTests.ReadyAsync(page);
        await Expect(page.GetByTestId("empty-state")).ToContainTextAsync("No agents yet");

        await page.GetByTestId("agent-name").FillAsync("nas-01");
        await page.GetByTestId("create-agent").ClickAsync();

        var key = page.GetByTestId("api-key");
        await Expect(key).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^tiaki_[0-9a-f]{12}_"));
        var apiKey = await key.InnerTextAsync();
        await Expect(page.GetByTestId("created-agent")).ToContainTextAsync($"AGENT_API_KEY={apiKey}");
        await Expect(page.GetByTestId("created-agent")).ToContainTextAsync($"CONTROL_URL={server.BaseAddress.ToString().TrimEnd('/')}");
        await Expect(page.GetByTestId("agents-table")).ToContainTextAsync("never connected");
        await Screenshots.TakeAsync(page, "11-agent-created");

        // The key works for the agent API, and is never shown again.
        using var agent = server.Http();
        agent.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        (await agent.PostAsync("/api/v1/agents/heartbeat", null)).StatusCode.ShouldBe(System.Net.HttpStatusCode.NoContent);
        await page.ReloadAsync();
        await DashboardFlowTests.ReadyAsync(page);
        (await page.ContentAsync()).ShouldNotContain(apiKey);
        await Expect(page.GetByTestId("agents-table").GetByTestId("agent-status")).ToHaveTextAsync("online");

        // "Scan now" for this one agent reaches it as a scan command.
        await page.GetByLabel("Scan nas-01 now").ClickAsync();
        await Expect(page.GetByText("Scan queued for 1 agent(s).")).ToBeVisibleAsync();
        using var poller = new FakeAgent("nas-01", agent);
        var commands = await poller.PollAsync();
        commands.ShouldHaveSingleItem().Type.ShouldBe(Tiaki.Contracts.CommandTypes.Scan);
    }

    [Fact]
    public async Task Updates_SelectSeveral_DeploysThemTogether()
    {
        using var agent = await server.EnrollAgentAsync("bulk-host");
        await agent.ReportAsync(
            [new("b1", "bulk-api", "api", "1.0.0", "sha256:b1"), new("b2", "bulk-ui", "ui", "2.0.0", "sha256:b2"), new("b3", "bulk-jobs", "jobs", "3.0.0", "sha256:b3")],
            [new("b1", "1.0.0", "1.1.0", "sha256:n1") { Bump = "minor" }, new("b2", "2.0.0", "2.0.1", "sha256:n2") { Bump = "patch" },
             new("b3", "3.0.0", "4.0.0", "sha256:n3") { Bump = "major" }]);
        await using var context = await server.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString() });
        var page = await context.NewPageAsync();
        await DashboardFlowTests.LoginAsync(page, server);
        await page.GotoAsync("/updates");
        await DashboardFlowTests.ReadyAsync(page);

        var table = page.GetByTestId("updates-table");
        await table.Locator("tr", new() { HasText = "bulk-api" }).GetByTestId("select-update").CheckAsync();
        await table.Locator("tr", new() { HasText = "bulk-ui" }).GetByTestId("select-update").CheckAsync();
        await Expect(page.GetByTestId("deploy-selected")).ToContainTextAsync("(2)");
        await page.GetByTestId("deploy-selected").ClickAsync();

        // Both are under way, the third is still waiting for a decision.
        await Expect(table.Locator("tr", new() { HasText = "bulk-api" }).GetByTestId("status-badge")).ToHaveTextAsync("Deploying");
        await Expect(table.Locator("tr", new() { HasText = "bulk-ui" }).GetByTestId("status-badge")).ToHaveTextAsync("Deploying");
        var commands = await agent.PollAsync();
        commands.Select(c => c.LatestTag).Order().ShouldBe(["1.1.0", "2.0.1"]);
        await page.GetByTestId("view-open").ClickAsync();
        await Expect(table.Locator("tr", new() { HasText = "bulk-jobs" }).GetByTestId("status-badge")).ToHaveTextAsync("Update available");
    }
}
