using Microsoft.Playwright;
using Tiaki.Contracts;
using static Microsoft.Playwright.Assertions;

namespace Tiaki.Server.Dashboard.Tests.EndToEnd;

/// <summary>A user's first session, in Chromium against the real server: log in, see what an agent reported,
/// deploy and watch it finish live, ignore, read the audit log, log out.</summary>
public sealed class DashboardFlowTests(DashboardServer server) : IClassFixture<DashboardServer>
{
    internal static readonly ContainerReport[] Containers =
    [
        new("c-web", "web", "nginx", "1.25.3", "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "/srv/shop/compose.yml", "web") { ComposeProject = "shop" },
        new("c-db", "db", "postgres", "15.4", "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "/srv/shop/compose.yml", "db") { ComposeProject = "shop" },
        new("c-cache", "cache", "redis", "7.2.3", "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", "/srv/shop/compose.yml", "cache") { ComposeProject = "shop" },
        new("c-proxy", "proxy", "traefik", "v3.1", "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"),
    ];

    internal static readonly UpdateReport[] Updates =
    [
        new("c-web", "1.25.3", "1.27.0", "sha256:1111111111111111111111111111111111111111111111111111111111111111", "https://nginx.org/en/CHANGES") { Bump = "minor" },
        new("c-db", "15.4", "16.1", "sha256:2222222222222222222222222222222222222222222222222222222222222222") { Bump = "major" },
        new("c-cache", "7.2.3", "7.2.4", "sha256:3333333333333333333333333333333333333333333333333333333333333333") { Bump = "patch" },
    ];

    [Fact]
    public async Task Dashboard_FirstSession_LoginSeeDeployLiveIgnoreAuditLogout()
    {
        await using var context = await server.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1366, Height = 900 },
            ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();

        // Not logged in: any page sends you to the login form.
        await page.GotoAsync("/containers");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?returnUrl=%2Fcontainers$"));
        await Screenshots.TakeAsync(page, "01-login");

        // A wrong token is refused with a message, not a blank page.
        await page.FillAsync("#token", "not-the-admin-token");
        await page.ClickAsync("button[type=submit]");
        await Expect(page.GetByTestId("login-error")).ToContainTextAsync("not the admin token");

        await page.FillAsync("#token", DashboardServer.AdminToken);
        await page.ClickAsync("button[type=submit]");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/containers$"));
        var cookie = (await context.CookiesAsync()).Single(c => c.Name == "tiaki_session");
        cookie.HttpOnly.ShouldBeTrue();
        cookie.SameSite.ShouldBe(SameSiteAttribute.Strict);

        // No agent yet: the overview says what to do.
        await page.GotoAsync("/");
        await ReadyAsync(page);
        await Expect(page.GetByTestId("empty-state")).ToContainTextAsync("No agents yet");
        await Screenshots.TakeAsync(page, "02-overview-empty");

        // An agent enrolls and reports, over the agent API.
        using var agent = await server.EnrollAgentAsync("edge-1");
        await agent.ReportAsync(Containers, Updates);

        // The open overview picks the report up by itself.
        await Expect(page.GetByTestId("stat-containers")).ToContainTextAsync("4");
        await Expect(page.GetByTestId("pending-major")).ToContainTextAsync("1");
        await Expect(page.GetByTestId("pending-minor")).ToContainTextAsync("1");
        await Expect(page.GetByTestId("pending-patch")).ToContainTextAsync("1");
        await Screenshots.TakeAsync(page, "03-overview");

        await page.GetByRole(AriaRole.Link, new() { Name = "Agents" }).First.ClickAsync();
        var agentRow = page.GetByTestId("agents-table").Locator("tr", new() { HasText = "edge-1" });
        await Expect(agentRow.GetByTestId("agent-status")).ToHaveTextAsync("online");
        await Screenshots.TakeAsync(page, "04-agents");

        await page.GetByRole(AriaRole.Link, new() { Name = "Containers" }).First.ClickAsync();
        var table = page.GetByTestId("containers-table");
        await Expect(table.Locator("tbody tr")).ToHaveCountAsync(4);
        await Expect(table.Locator("tr", new() { HasText = "db" }).First).ToContainTextAsync("16.1");
        await Screenshots.TakeAsync(page, "05-containers");

        await page.GetByTestId("has-update").CheckAsync();
        await Expect(table.Locator("tbody tr")).ToHaveCountAsync(3);
        await page.GetByTestId("has-update").UncheckAsync();
        await Expect(table.Locator("tbody tr")).ToHaveCountAsync(4);
        await page.GetByTestId("search").PressSequentiallyAsync("REDIS");
        await Expect(table.Locator("tbody tr")).ToHaveCountAsync(1);
        await page.GetByTestId("search").PressAsync("Control+a");
        await page.GetByTestId("search").PressAsync("Backspace");
        await Expect(table.Locator("tbody tr")).ToHaveCountAsync(4);

        // A new report while the page is open shows up without a reload.
        await page.EvaluateAsync("window.__sameDocument = true");
        await agent.ReportAsync([.. Containers, new("c-worker", "worker", "busybox", "1.36", "sha256:eeee")], Updates);
        await Expect(table.Locator("tbody tr")).ToHaveCountAsync(5);
        (await page.EvaluateAsync<bool>("window.__sameDocument === true")).ShouldBeTrue();

        // Deploy one update and watch it travel: queued, delivered, deployed, as the agent plays its part.
        await page.GetByRole(AriaRole.Link, new() { Name = "Updates" }).First.ClickAsync();
        var web = page.GetByTestId("updates-table").Locator("tr", new() { HasText = "nginx" });
        await Expect(web.GetByTestId("bump")).ToHaveTextAsync("minor");
        await Screenshots.TakeAsync(page, "06-updates");
        await web.GetByTestId("deploy").ClickAsync();

        await page.GetByTestId("view-progress").ClickAsync();
        var deploying = page.GetByTestId("updates-table").Locator("tr", new() { HasText = "nginx" });
        await Expect(deploying.GetByTestId("status-badge")).ToHaveTextAsync("Deploying");
        await Expect(deploying.GetByTestId("deploy-progress")).ToHaveAttributeAsync("data-step", "queued");

        await page.EvaluateAsync("window.__sameDocument = true");
        var commands = await agent.PollAsync();
        var deploy = commands.ShouldHaveSingleItem();
        deploy.Type.ShouldBe(CommandTypes.Deploy);
        deploy.LatestTag.ShouldBe("1.27.0");
        await Expect(deploying.GetByTestId("deploy-progress")).ToHaveAttributeAsync("data-step", "delivered");
        await Screenshots.TakeAsync(page, "07-updates-deploying");

        await agent.ResultAsync(deploy.CommandId, true, null, "Pulling nginx:1.27.0\nRecreating shop_web_1 ... done\nHealthy after 2 s");
        await page.GetByTestId("view-done").ClickAsync();
        var done = page.GetByTestId("updates-table").Locator("tr", new() { HasText = "nginx" });
        await Expect(done.GetByTestId("status-badge")).ToHaveTextAsync("Deployed");
        await done.GetByTestId("show-log").ClickAsync();
        await Expect(page.GetByTestId("deploy-log")).ToContainTextAsync("Recreating shop_web_1");
        (await page.EvaluateAsync<bool>("window.__sameDocument === true")).ShouldBeTrue();
        await Screenshots.TakeAsync(page, "08-updates-deployed");

        // Ignore another one: it leaves the list of things to decide and waits under "Ignored".
        await page.GetByTestId("view-open").ClickAsync();
        var cache = page.GetByTestId("updates-table").Locator("tr", new() { HasText = "redis" });
        await cache.GetByTestId("ignore").ClickAsync();
        await Expect(page.GetByTestId("updates-table").Locator("tr", new() { HasText = "redis" })).ToHaveCountAsync(0);
        await page.GetByTestId("view-ignored").ClickAsync();
        await Expect(page.GetByTestId("updates-table").Locator("tr", new() { HasText = "redis" }).GetByTestId("status-badge")).ToHaveTextAsync("Ignored");

        // The audit log tells who did what.
        await page.GetByRole(AriaRole.Link, new() { Name = "Audit log" }).First.ClickAsync();
        var audit = page.GetByTestId("audit-table");
        await Expect(audit).ToContainTextAsync("update.ignored");
        await Expect(audit).ToContainTextAsync("update.deploy-requested");
        await Expect(audit).ToContainTextAsync("deploy.succeeded");
        await Expect(audit.Locator("tr", new() { HasText = "update.ignored" })).ToContainTextAsync("admin");
        await Screenshots.TakeAsync(page, "09-audit");
        await page.GetByTestId("audit-action").PressSequentiallyAsync("ignored");
        await Expect(audit.Locator("tbody tr")).ToHaveCountAsync(1);

        await page.GetByRole(AriaRole.Link, new() { Name = "Settings" }).First.ClickAsync();
        await Expect(page.GetByTestId("settings-database")).ToHaveTextAsync("SQLite");
        (await page.ContentAsync()).ShouldNotContain(DashboardServer.AdminToken);
        await Screenshots.TakeAsync(page, "10-settings");

        // Log out: back to the form, and the pages are closed again.
        await page.GetByTestId("logout").ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login$"));
        (await context.CookiesAsync()).ShouldNotContain(c => c.Name == "tiaki_session");
        await page.GotoAsync("/updates");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?returnUrl=%2Fupdates$"));
    }

    internal static Task ReadyAsync(IPage page) =>
        Expect(page.Locator(".mud-layout[data-interactive=true]")).ToBeVisibleAsync();

    internal static async Task LoginAsync(IPage page, DashboardServer server)
    {
        await page.GotoAsync("/login");
        await page.FillAsync("#token", DashboardServer.AdminToken);
        await page.ClickAsync("button[type=submit]");
        await Expect(page).ToHaveURLAsync(server.BaseAddress.ToString());
    }
}
