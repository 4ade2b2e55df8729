using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tiaki.Server.Dashboard.Tests.EndToEnd;

/// <summary>The session ends when its JWT expires, also on a page left open.</summary>
public sealed class SessionTests(DashboardServer server) : IClassFixture<DashboardServer>
{
    [Fact]
    public async Task OpenPage_SessionExpires_BrowserReturnsToLoginAndBackAfterwards()
    {
        await using var context = await server.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString() });
        var page = await context.NewPageAsync();
        await DashboardFlowTests.LoginAsync(page, server);
        await page.GotoAsync("/audit");
        await DashboardFlowTests.ReadyAsync(page);

        // The server's clock passes the JWT's expiry (JWT_LIFETIME_MINUTES, 12 h by default).
        server.Time.Advance(TimeSpan.FromHours(12) + TimeSpan.FromMinutes(1));

        await Expect(page).ToHaveURLAsync(new Regex("/login\\?returnUrl=%2Faudit$"), new() { Timeout = 20_000 });
        // The expired cookie opens nothing either.
        await page.GotoAsync("/settings");
        await Expect(page).ToHaveURLAsync(new Regex("/login\\?returnUrl=%2Fsettings$"));

        // Logging in again lands on the page the user was sent away from.
        await page.GotoAsync("/login?returnUrl=%2Faudit");
        await page.FillAsync("#token", DashboardServer.AdminToken);
        await page.ClickAsync("button[type=submit]");
        await Expect(page).ToHaveURLAsync(new Regex("/audit$"));
        await Expect(page.Locator("h1, .mud-typography-h4").First).ToHaveTextAsync("Audit log");
    }

    [Fact]
    public async Task Login_ReturnUrlToAnotherSite_StaysOnThisOne()
    {
        await using var context = await server.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString() });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/login?returnUrl=%2F%2Fevil.example%2F");
        await page.FillAsync("#token", DashboardServer.AdminToken);
        await page.ClickAsync("button[type=submit]");

        await Expect(page).ToHaveURLAsync(server.BaseAddress.ToString());
    }

    [Fact]
    public async Task AdminApi_WithTheDashboardCookieOnly_IsRefused()
    {
        await using var context = await server.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString() });
        var page = await context.NewPageAsync();
        await DashboardFlowTests.LoginAsync(page, server);

        // The cookie is for pages; the API wants a bearer token, so a cross-site request riding on the cookie gets nothing.
        var res = await context.APIRequest.GetAsync("/api/v1/admin/agents");
        res.Status.ShouldBe(401);
    }
}
