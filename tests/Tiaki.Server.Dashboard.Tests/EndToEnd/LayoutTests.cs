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
    }
}
