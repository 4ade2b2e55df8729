using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tiaki.Contracts;

namespace Tiaki.Agent.Core.Reporting;

/// <summary>The control plane cannot be reached or answered 5xx: retry later.</summary>
public sealed class ControlPlaneUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The control plane refused the request (4xx): retrying the same request will not help.</summary>
public sealed class ControlPlaneRejectedException(HttpStatusCode status, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
}

/// <summary>The agent's side of the agent API (proto/api.yaml).</summary>
public interface IControlPlane
{
    Task<RegisterAgentResponse> RegisterAsync(RegisterAgentRequest request, string enrollmentToken, CancellationToken ct);
    Task HeartbeatAsync(CancellationToken ct);
    Task SubmitReportAsync(SubmitReportRequest report, CancellationToken ct);
    Task<IReadOnlyList<AgentCommand>> GetCommandsAsync(TimeSpan wait, CancellationToken ct);
    Task PostResultAsync(CommandResult result, CancellationToken ct);
    void UseApiKey(string apiKey);
}

public sealed class ControlPlaneClient(HttpClient http) : IControlPlane
{
    private string? apiKey;

    public void UseApiKey(string apiKey) => this.apiKey = apiKey;

    public async Task<RegisterAgentResponse> RegisterAsync(RegisterAgentRequest request, string enrollmentToken, CancellationToken ct)
    {
        using var msg = new HttpRequestMessage(HttpMethod.Post, "api/v1/agents/register")
        {
            Content = JsonContent.Create(request, ContractsJsonContext.Default.RegisterAgentRequest),
        };
        msg.Headers.Authorization = new AuthenticationHeaderValue("Bearer", enrollmentToken);
        using var response = await SendAsync(msg, ct);
        return await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.RegisterAgentResponse, ct)
            ?? throw new ControlPlaneRejectedException(response.StatusCode, "registration answered without a body");
    }

    public async Task HeartbeatAsync(CancellationToken ct)
    {
        using var msg = Authorized(HttpMethod.Post, "api/v1/agents/heartbeat");
        msg.Content = new ByteArrayContent([]); // an explicit Content-Length: 0; some servers and proxies refuse a bodiless POST
        using var _ = await SendAsync(msg, ct);
    }

    public async Task SubmitReportAsync(SubmitReportRequest report, CancellationToken ct)
    {
        using var msg = Authorized(HttpMethod.Post, "api/v1/reports/submit");
        msg.Content = JsonContent.Create(report, ContractsJsonContext.Default.SubmitReportRequest);
        using var _ = await SendAsync(msg, ct);
    }

    public async Task<IReadOnlyList<AgentCommand>> GetCommandsAsync(TimeSpan wait, CancellationToken ct)
    {
        using var msg = Authorized(HttpMethod.Get, $"api/v1/reports/commands?wait={(int)wait.TotalSeconds}");
        // The server holds the request up to `wait`; give it room before calling it a timeout.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(wait + TimeSpan.FromSeconds(15));
        using var response = await SendAsync(msg, timeout.Token, ct);
        if (response.StatusCode == HttpStatusCode.NoContent) return [];
        var body = await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.CommandsResponse, ct);
        // "type" is optional on the wire (the original API only had deploys), and source-generated
        // deserialisation leaves the property's default unset when it is absent.
        return body?.Commands?.Select(c => string.IsNullOrEmpty(c.Type) ? c with { Type = CommandTypes.Deploy } : c).ToList() ?? [];
    }

    public async Task PostResultAsync(CommandResult result, CancellationToken ct)
    {
        using var msg = Authorized(HttpMethod.Post, $"api/v1/reports/commands/{Uri.EscapeDataString(result.CommandId)}/result");
        msg.Content = JsonContent.Create(result, ContractsJsonContext.Default.CommandResult);
        using var _ = await SendAsync(msg, ct);
    }

    private HttpRequestMessage Authorized(HttpMethod method, string path)
    {
        var msg = new HttpRequestMessage(method, path);
        if (apiKey is not null) msg.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return msg;
    }

    private Task<HttpResponseMessage> SendAsync(HttpRequestMessage msg, CancellationToken ct) => SendAsync(msg, ct, ct);

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage msg, CancellationToken requestToken, CancellationToken callerToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(msg, requestToken);
        }
        catch (HttpRequestException ex)
        {
            throw new ControlPlaneUnavailableException($"{msg.Method} {msg.RequestUri}: {ex.Message}", ex);
        }
        catch (OperationCanceledException ex) when (!callerToken.IsCancellationRequested)
        {
            throw new ControlPlaneUnavailableException($"{msg.Method} {msg.RequestUri}: timed out", ex);
        }
        if (response.IsSuccessStatusCode) return response;
        var status = response.StatusCode;
        var detail = await SafeBody(response, callerToken);
        response.Dispose();
        if ((int)status >= 500 || status == HttpStatusCode.TooManyRequests || status == HttpStatusCode.RequestTimeout)
            throw new ControlPlaneUnavailableException($"{msg.Method} {msg.RequestUri}: {(int)status} {detail}");
        throw new ControlPlaneRejectedException(status, $"{msg.Method} {msg.RequestUri}: {(int)status} {detail}");
    }

    private static async Task<string> SafeBody(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var s = await response.Content.ReadAsStringAsync(ct);
            return s.Length > 500 ? s[..500] : s;
        }
        catch (HttpRequestException)
        {
            return "";
        }
    }
}

public sealed record StoredCredentials(string AgentId, string ApiKey);

[JsonSerializable(typeof(StoredCredentials))]
[JsonSerializable(typeof(CommandResult))]
internal sealed partial class StateJsonContext : JsonSerializerContext;

/// <summary>
/// What the agent keeps in AGENT_STATE_DIR: the API key from registration (mode 0600) and the
/// outbox of command results the control plane has not acknowledged yet.
/// </summary>
public sealed class AgentState(string directory)
{
    private string CredentialsPath => Path.Combine(directory, "credentials.json");
    private string OutboxPath => Path.Combine(directory, "outbox");

    public static bool HasCredentials(string directory) => File.Exists(Path.Combine(directory, "credentials.json"));

    public StoredCredentials? LoadCredentials()
    {
        if (!File.Exists(CredentialsPath)) return null;
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(CredentialsPath), StateJsonContext.Default.StoredCredentials);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void SaveCredentials(StoredCredentials credentials)
    {
        Directory.CreateDirectory(directory);
        var tmp = CredentialsPath + ".tmp";
        File.WriteAllText(tmp, "");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(tmp, JsonSerializer.Serialize(credentials, StateJsonContext.Default.StoredCredentials));
        File.Move(tmp, CredentialsPath, overwrite: true);
    }

    public void Enqueue(CommandResult result)
    {
        Directory.CreateDirectory(OutboxPath);
        var path = Path.Combine(OutboxPath, FileName(result.CommandId));
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(result, StateJsonContext.Default.CommandResult));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    public IReadOnlyList<CommandResult> Pending()
    {
        if (!Directory.Exists(OutboxPath)) return [];
        var list = new List<CommandResult>();
        foreach (var f in Directory.GetFiles(OutboxPath, "*.json").Order(StringComparer.Ordinal))
        {
            try
            {
                var r = JsonSerializer.Deserialize(File.ReadAllText(f), StateJsonContext.Default.CommandResult);
                if (r is not null) list.Add(r);
            }
            catch (JsonException)
            {
                File.Delete(f); // a torn write from a crash; nothing to deliver
            }
        }
        return list;
    }

    public void Remove(string commandId)
    {
        var path = Path.Combine(OutboxPath, FileName(commandId));
        if (File.Exists(path)) File.Delete(path);
    }

    // Command ids come from the server: never let one name a path.
    private static string FileName(string commandId) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(commandId)))[..32] + ".json";
}
