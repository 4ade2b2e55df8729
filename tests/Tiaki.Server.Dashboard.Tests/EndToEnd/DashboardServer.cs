using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Playwright;
using Tiaki.Contracts;

namespace Tiaki.Server.Dashboard.Tests.EndToEnd;

/// <summary>
/// The real server on a real port (Kestrel), a real SQLite file, and the system Chromium driven by Playwright.
/// Data gets in the way an agent puts it there: enrollment token, registration, reports over HTTP.
/// </summary>
public sealed class DashboardServer : IAsyncLifetime
{
    public const string AdminToken = "e2e-admin-token-0123456789abcdef";
    private readonly string _dataDir = Directory.CreateTempSubdirectory("tiaki-dashboard-e2e-").FullName;
    private Factory? _factory;
    private IPlaywright? _playwright;

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);
    public Uri BaseAddress { get; private set; } = default!;
    public IBrowser Browser { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        _factory = new Factory(new Dictionary<string, string?>
        {
            ["ADMIN_TOKEN"] = AdminToken,
            ["DATABASE_URL"] = $"Data Source={Path.Combine(_dataDir, "tiaki.db")}",
            ["TIAKI_DATA_DIR"] = _dataDir,
            ["RUN_SCHEDULER"] = "false",
            ["SCAN_INTERVAL"] = "0 */6 * * *",
        }, Time);
        _factory.UseKestrel(0);
        _factory.StartServer();
        var addresses = _factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseAddress = new Uri(addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        });
    }

    public HttpClient Http() => new() { BaseAddress = BaseAddress };

    /// <summary>Registers an agent the way a freshly started one does: with an enrollment token from the admin API.</summary>
    public async Task<FakeAgent> EnrollAgentAsync(string name)
    {
        using var admin = Http();
        var login = await admin.PostAsJsonAsync("/api/v1/auth/login", new { token = AdminToken });
        login.EnsureSuccessStatusCode();
        var jwt = (await login.Content.ReadFromJsonAsync<Jwt>())!.AccessToken;
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", jwt);
        var token = await admin.PostAsJsonAsync("/api/v1/admin/enrollment-tokens", new { expiresInMinutes = 10, uses = 1 });
        token.EnsureSuccessStatusCode();
        var enrollment = (await token.Content.ReadFromJsonAsync<Enrollment>())!.Token;

        var agentHttp = Http();
        using var register = new HttpRequestMessage(HttpMethod.Post, "/api/v1/agents/register")
        {
            Content = JsonContent.Create(new RegisterAgentRequest(name, AgentTypes.Vm)),
        };
        register.Headers.Authorization = new AuthenticationHeaderValue("Bearer", enrollment);
        var registered = await agentHttp.SendAsync(register);
        registered.EnsureSuccessStatusCode();
        var created = (await registered.Content.ReadFromJsonAsync<RegisterAgentResponse>())!;
        agentHttp.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", created.ApiKey);
        return new FakeAgent(created.AgentId, agentHttp);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed record Jwt(string AccessToken);

    private sealed record Enrollment(string Token);

    private sealed class Factory(IReadOnlyDictionary<string, string?> settings, FakeTimeProvider time) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Production");
            foreach (var (k, v) in settings)
            {
                builder.UseSetting(k, v);
            }

            builder.ConfigureTestServices(s =>
            {
                s.RemoveAll<TimeProvider>();
                s.AddSingleton<TimeProvider>(time);
            });
        }
    }
}

/// <summary>Plays an agent over the real HTTP API: reports, polls commands, posts results.</summary>
public sealed class FakeAgent(string id, HttpClient http) : IDisposable
{
    public string Id { get; } = id;

    public async Task ReportAsync(IReadOnlyList<ContainerReport> containers, IReadOnlyList<UpdateReport> updates)
    {
        var res = await http.PostAsJsonAsync("/api/v1/reports/submit", new SubmitReportRequest(containers, updates));
        res.EnsureSuccessStatusCode();
    }

    public async Task<IReadOnlyList<AgentCommand>> PollAsync()
    {
        var res = await http.GetFromJsonAsync<CommandsResponse>("/api/v1/reports/commands?wait=0");
        return res!.Commands;
    }

    public async Task ResultAsync(string commandId, bool success, string? error, string log)
    {
        var res = await http.PostAsJsonAsync($"/api/v1/reports/commands/{commandId}/result", new CommandResult(commandId, success, error, log));
        res.EnsureSuccessStatusCode();
    }

    public void Dispose() => http.Dispose();
}
