using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tiaki.Testing.Registry;

/// <summary>
/// A reverse proxy in front of a real registry that counts requests, can add latency, inject
/// failures (429/5xx), and paginate tag lists with Link headers as Docker Hub and ghcr.io do
/// (the Debian docker-registry 2.8 returns every tag in one page).
/// </summary>
public sealed class RegistryProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _upstream;
    private readonly string _upstreamHost;
    private readonly ConcurrentQueue<Fault> _faults = new();
    private int _total;
    private int _inFlight;
    private int _maxInFlight;

    private sealed record Fault(Func<HttpRequest, bool> Match, int Status, string? RetryAfter);

    public string Host { get; private set; } = "";
    public TimeSpan Delay { get; set; } = TimeSpan.Zero;
    public int? TagPageLimit { get; set; }
    public ConcurrentDictionary<string, int> Counts { get; } = new();
    public int TotalRequests => _total;
    public int MaxInFlight => _maxInFlight;

    private RegistryProxy(string upstreamHost)
    {
        _upstreamHost = upstreamHost;
        _upstream = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, MaxConnectionsPerServer = 256 });
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.Run(HandleAsync);
    }

    public static async Task<RegistryProxy> StartAsync(string upstreamHost)
    {
        var proxy = new RegistryProxy(upstreamHost);
        await proxy._app.StartAsync();
        proxy.Host = new Uri(proxy._app.Urls.First()).Authority;
        return proxy;
    }

    /// <summary>The next <paramref name="times"/> requests matching <paramref name="match"/> get <paramref name="status"/>.</summary>
    public void FailNext(Func<HttpRequest, bool> match, int status, int times = 1, string? retryAfter = null)
    {
        for (var i = 0; i < times; i++) _faults.Enqueue(new Fault(match, status, retryAfter));
    }

    public int Count(string kind) => Counts.GetValueOrDefault(kind);

    public void ResetCounts()
    {
        Counts.Clear();
        Interlocked.Exchange(ref _maxInFlight, 0);
        Interlocked.Exchange(ref _total, 0);
    }

    private static string Kind(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        var what = path == "/v2/" || path == "/v2" ? "ping"
            : path.Contains("/manifests/", StringComparison.Ordinal) ? "manifest"
            : path.EndsWith("/tags/list", StringComparison.Ordinal) ? "tags"
            : path.Contains("/blobs/", StringComparison.Ordinal) ? "blob" : "other";
        return $"{request.Method} {what}";
    }

    private async Task HandleAsync(HttpContext context)
    {
        var inFlight = Interlocked.Increment(ref _inFlight);
        for (var seen = _maxInFlight; inFlight > seen; seen = _maxInFlight)
            Interlocked.CompareExchange(ref _maxInFlight, inFlight, seen);
        try
        {
            await ForwardAsync(context);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task ForwardAsync(HttpContext context)
    {
        Interlocked.Increment(ref _total);
        Counts.AddOrUpdate(Kind(context.Request), 1, (_, n) => n + 1);
        if (Delay > TimeSpan.Zero) await Task.Delay(Delay);

        if (_faults.TryPeek(out var fault) && fault.Match(context.Request) && _faults.TryDequeue(out fault))
        {
            context.Response.StatusCode = fault.Status;
            if (fault.RetryAfter is not null) context.Response.Headers.RetryAfter = fault.RetryAfter;
            return;
        }

        var path = context.Request.Path.Value ?? "/";
        if (TagPageLimit is { } limit && path.EndsWith("/tags/list", StringComparison.Ordinal))
        {
            await PaginateTagsAsync(context, path, limit);
            return;
        }

        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), $"http://{_upstreamHost}{path}{context.Request.QueryString}");
        foreach (var (key, value) in context.Request.Headers)
            if (!key.Equals("Host", StringComparison.OrdinalIgnoreCase))
                request.Headers.TryAddWithoutValidation(key, value.ToArray());
        using var response = await _upstream.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (key, value) in response.Headers.Concat(response.Content.Headers))
            if (!key.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                context.Response.Headers[key] = value.ToArray();
        if (context.Request.Method != "HEAD")
            await response.Content.CopyToAsync(context.Response.Body);
    }

    private readonly ConcurrentDictionary<string, (string Name, List<string> Tags)> _tagLists = new();

    private async Task PaginateTagsAsync(HttpContext context, string path, int limit)
    {
        var last = context.Request.Query["last"].ToString();
        // Continuation pages reuse the list read for the first page, as a registry's own cursor would.
        if (last.Length > 0 && _tagLists.TryGetValue(path, out var cached))
        {
            await WritePageAsync(context, path, limit, cached.Name, cached.Tags, last);
            return;
        }
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{_upstreamHost}{path}");
        if (context.Request.Headers.Authorization.Count > 0)
            request.Headers.TryAddWithoutValidation("Authorization", context.Request.Headers.Authorization.ToArray());
        using var response = await _upstream.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (key, value) in response.Headers) context.Response.Headers[key] = value.ToArray();
            await response.Content.CopyToAsync(context.Response.Body);
            return;
        }
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var name = doc.RootElement.GetProperty("name").GetString()!;
        var all = doc.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).Order(StringComparer.Ordinal).ToList();
        _tagLists[path] = (name, all);
        await WritePageAsync(context, path, limit, name, all, last);
    }

    private static async Task WritePageAsync(HttpContext context, string path, int limit, string name, List<string> all, string last)
    {
        var n = int.TryParse(context.Request.Query["n"], out var asked) && asked > 0 ? Math.Min(asked, limit) : limit;
        var page = all.Where(t => last.Length == 0 || string.CompareOrdinal(t, last) > 0).Take(n).ToList();
        if (page.Count == n && all.Count > 0 && page[^1] != all[^1])
            context.Response.Headers.Link = $"<{path}?n={n}&last={Uri.EscapeDataString(page[^1])}>; rel=\"next\"";
        await context.Response.WriteAsJsonAsync(new Dictionary<string, object> { ["name"] = name, ["tags"] = page });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _upstream.Dispose();
    }
}
