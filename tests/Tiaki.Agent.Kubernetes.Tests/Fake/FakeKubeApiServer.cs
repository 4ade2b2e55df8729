using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tiaki.Agent.Kubernetes.Tests.Fake;

/// <summary>
/// A Kubernetes API server on loopback, faithful where the agent and kubectl look: discovery,
/// apps/v1 + batch/v1 + v1 objects with resourceVersion and generation, list/get/watch/patch/update/
/// create/delete, the three patch types, Status errors (401, 403, 404, 409, 415, 422) with the
/// server's wording, and a controller that rolls pods after a template change (or leaves them in
/// ImagePullBackOff / CrashLoopBackOff for images told to fail). Served over TLS because kubectl
/// sends no bearer token to http:// servers.
/// </summary>
internal sealed partial class FakeKubeApiServer : IAsyncDisposable
{
    public const string ServiceAccountUser = "system:serviceaccount:tiaki:tiaki-agent";

    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, JsonObject> _objects = new(StringComparer.Ordinal);
    private readonly List<WatchEvent> _events = [];
    private readonly HashSet<(string Verb, string Resource, string? Namespace)> _denied = [];
    private readonly Dictionary<string, string> _failingImages = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _digests = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _rolloutStarted = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _controller;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _resourceVersion = 1000;
    private int _podCounter;

    public string Url { get; }
    public string Token { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
    public X509Certificate2 Certificate { get; }
    public string KubeconfigPath { get; }
    public List<RecordedRequest> Requests { get; } = [];

    /// <summary>Every resource request as the authorizer sees it: API group, resource, verb, namespace (null: cluster scope).</summary>
    public List<(string Group, string Resource, string Verb, string? Namespace)> Calls { get; } = [];

    /// <summary>Nodes a DaemonSet schedules on.</summary>
    public int Nodes { get; set; } = 2;

    private FakeKubeApiServer(WebApplication app, X509Certificate2 cert, string url, string dir)
    {
        _app = app;
        Certificate = cert;
        Url = url;
        KubeconfigPath = Path.Combine(dir, "kubeconfig");
        File.WriteAllText(KubeconfigPath, Kubeconfig(url, cert, Token));
        _controller = Task.Run(ControllerLoop);
    }

    public static async Task<FakeKubeApiServer> StartAsync()
    {
        var cert = SelfSignedLoopbackCertificate();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(cert)));
        var app = builder.Build();
        FakeKubeApiServer? self = null;
        app.Run(ctx => self!.HandleAsync(ctx));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;
        var dir = Directory.CreateTempSubdirectory("tiaki-fake-k8s-").FullName;
        self = new FakeKubeApiServer(app, cert, $"https://127.0.0.1:{port}", dir);
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            await _controller;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        Certificate.Dispose();
        Directory.Delete(Path.GetDirectoryName(KubeconfigPath)!, recursive: true);

        // A request that crashed the fake means the test proved nothing about the real server.
        Faults.ShouldBeEmpty();
    }

    // ---- what tests arrange -------------------------------------------------------------------

    /// <summary>RBAC: the service account may not <paramref name="verb"/> this resource (in this namespace, or anywhere when null).</summary>
    public void Deny(string verb, string resource, string? ns = null)
    {
        lock (_lock)
        {
            _denied.Add((verb, resource, ns));
        }
    }

    /// <summary>Pods running <paramref name="image"/> end up waiting with this reason (ImagePullBackOff, CrashLoopBackOff, or ContainerCreating to hang).</summary>
    public void FailImage(string image, string reason)
    {
        lock (_lock)
        {
            _failingImages[image] = reason;
        }
    }

    /// <summary>The digest the kubelet reports in imageID for <paramref name="image"/>; a stable hash of the name unless set.</summary>
    public string DigestOf(string image)
    {
        lock (_lock)
        {
            return _digests.TryGetValue(image, out var d) ? d : "sha256:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(image))).ToLowerInvariant();
        }
    }

    public void SetDigest(string image, string digest)
    {
        lock (_lock)
        {
            _digests[image] = digest;
        }
    }

    /// <summary>Creates an object as `kubectl create` would, and lets the controller bring its pods up.</summary>
    public JsonObject Create(string json)
    {
        var obj = JsonNode.Parse(json)!.AsObject();
        var type = Types.Single(t => t.Kind == obj["kind"]!.GetValue<string>());
        lock (_lock)
        {
            // A namespace exists before anything is created in it (kubectl checks it on a NotFound).
            var ns = obj["metadata"]?["namespace"]?.GetValue<string>() ?? "default";
            if (type.Namespaced && !_objects.ContainsKey(Key("namespaces", "", ns)))
            {
                Insert(Types.Single(t => t.Kind == "Namespace"), "", new JsonObject { ["metadata"] = new JsonObject { ["name"] = ns }, ["status"] = new JsonObject { ["phase"] = "Active" } });
            }

            var created = Insert(type, obj["metadata"]?["namespace"]?.GetValue<string>() ?? "default", obj);
            // Bring the pods up now, so a test starts from a settled cluster (StatefulSets need a step per replica).
            for (var i = 0; i < 30; i++)
            {
                Reconcile(DateTimeOffset.UtcNow);
            }

            return (JsonObject)created.DeepClone();
        }
    }

    public JsonObject? Get(string plural, string ns, string name)
    {
        lock (_lock)
        {
            return _objects.TryGetValue(Key(plural, ns, name), out var o) ? (JsonObject)o.DeepClone() : null;
        }
    }

    public List<JsonObject> Pods(string ns)
    {
        lock (_lock)
        {
            return _objects.Where(kv => kv.Key.StartsWith($"pods/{ns}/", StringComparison.Ordinal)).Select(kv => (JsonObject)kv.Value.DeepClone()).ToList();
        }
    }

    // ---- HTTP ----------------------------------------------------------------------------------

    private sealed record ResourceType(string Group, string Version, string Plural, string Kind, string[] ShortNames, bool Namespaced)
    {
        public string GroupVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
        public string Qualified => Group.Length == 0 ? Plural : $"{Plural}.{Group}";
        public bool IsWorkload => Kind is "Deployment" or "StatefulSet" or "DaemonSet";
    }

    private static readonly ResourceType[] Types =
    [
        new("", "v1", "pods", "Pod", ["po"], true),
        new("", "v1", "secrets", "Secret", [], true),
        new("", "v1", "namespaces", "Namespace", ["ns"], false),
        new("apps", "v1", "deployments", "Deployment", ["deploy"], true),
        new("apps", "v1", "statefulsets", "StatefulSet", ["sts"], true),
        new("apps", "v1", "daemonsets", "DaemonSet", ["ds"], true),
        new("batch", "v1", "cronjobs", "CronJob", ["cj"], true),
        new("batch", "v1", "jobs", "Job", [], true),
    ];

    internal sealed record RecordedRequest(string Method, string Path, string Query, string? ContentType, string Body);

    private sealed record WatchEvent(long ResourceVersion, string Type, string Plural, string Namespace, JsonObject Object);

    /// <summary>Requests that threw inside the fake: a bug of the fake, surfaced as a 500 like the real server's.</summary>
    public List<string> Faults { get; } = [];

    private async Task HandleAsync(HttpContext ctx)
    {
        try
        {
            await HandleCoreAsync(ctx);
        }
        catch (Exception e) when (!ctx.Response.HasStarted)
        {
            lock (_lock)
            {
                Faults.Add($"{ctx.Request.Method} {ctx.Request.Path}{ctx.Request.QueryString}: {e}");
            }

            await WriteAsync(ctx, 500, Status(500, "InternalError", $"an error on the server (\"{e.Message}\") has prevented the request from succeeding"));
        }
    }

    private async Task HandleCoreAsync(HttpContext ctx)
    {
        if (Environment.GetEnvironmentVariable("TIAKI_FAKE_K8S_TRACE") == "1")
        {
            Console.Error.WriteLine($"fake-k8s: {ctx.Request.Method} {ctx.Request.Path}{ctx.Request.QueryString} [{ctx.Request.Headers.Accept}]");
        }

        var body = await new StreamReader(ctx.Request.Body).ReadToEndAsync();
        var path = ctx.Request.Path.Value ?? "/";
        lock (_lock)
        {
            Requests.Add(new RecordedRequest(ctx.Request.Method, path, ctx.Request.QueryString.Value ?? "", ctx.Request.ContentType, body));
        }

        if (ctx.Request.Headers.Authorization.ToString() != $"Bearer {Token}")
        {
            await WriteAsync(ctx, 401, Status(401, "Unauthorized", "Unauthorized"));
            return;
        }

        var discovery = Discovery(path);
        if (discovery is not null)
        {
            await WriteAsync(ctx, 200, discovery);
            return;
        }

        if (!TryRoute(path, out var type, out var ns, out var name))
        {
            await WriteAsync(ctx, 404, Status(404, "NotFound", "the server could not find the requested resource"));
            return;
        }

        var watch = ctx.Request.Query["watch"] is { Count: > 0 } w && (w[0] == "true" || w[0] == "1");
        var verb = (ctx.Request.Method, name, watch) switch
        {
            ("GET", null, true) => "watch",
            ("GET", null, false) => "list",
            ("GET", _, _) => "get",
            ("PATCH", _, _) => "patch",
            ("PUT", _, _) => "update",
            ("POST", _, _) => "create",
            ("DELETE", _, _) => "delete",
            _ => "unknown",
        };

        lock (_lock)
        {
            Calls.Add((type.Group, type.Plural, verb, ns));
        }

        if (IsDenied(verb, type.Qualified, ns))
        {
            var scope = ns is null ? "at the cluster scope" : $"in the namespace \"{ns}\"";
            var subject = name is null ? type.Qualified : $"{type.Qualified} \"{name}\"";
            await WriteAsync(ctx, 403, Status(403, "Forbidden",
                $"{subject} is forbidden: User \"{ServiceAccountUser}\" cannot {verb} resource \"{type.Plural}\" in API group \"{type.Group}\" {scope}", type, name));
            return;
        }

        if (verb == "watch")
        {
            await WatchAsync(ctx, type, ns);
            return;
        }

        var (code, response) = verb switch
        {
            "list" => List(type, ns, ctx.Request.Query["labelSelector"], ctx.Request.Query["fieldSelector"]),
            "get" => GetOne(type, ns ?? "", name!),
            "patch" => Patch(type, ns ?? "", name!, ctx.Request.ContentType, body),
            "update" => Update(type, ns ?? "", name!, body),
            "create" => CreateFromApi(type, ns ?? "default", body),
            "delete" => Delete(type, ns ?? "", name!),
            _ => (405, Status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")),
        };
        await WriteAsync(ctx, code, response);
    }

    private bool IsDenied(string verb, string resource, string? ns)
    {
        lock (_lock)
        {
            return _denied.Contains((verb, resource, null)) || (ns is not null && _denied.Contains((verb, resource, ns)));
        }
    }

    private static bool TryRoute(string path, out ResourceType type, out string? ns, out string? name)
    {
        type = Types[0];
        ns = null;
        name = null;
        var s = path.Trim('/').Split('/');
        string group, version;
        string[] rest;
        if (s is ["api", var v, .. var r1])
        {
            (group, version, rest) = ("", v, r1);
        }
        else if (s is ["apis", var g, var v2, .. var r2])
        {
            (group, version, rest) = (g, v2, r2);
        }
        else
        {
            return false;
        }

        string plural;
        switch (rest)
        {
            case ["namespaces", var n, var p]: (ns, plural) = (n, p); break;
            case ["namespaces", var n, var p, var nm]: (ns, plural, name) = (n, p, nm); break;
            case [var p]: plural = p; break;
            case [var p, var nm] when p == "namespaces": (plural, name) = (p, nm); break;
            default: return false;
        }

        var found = Types.FirstOrDefault(t => t.Group == group && t.Version == version && t.Plural == plural);
        if (found is null)
        {
            return false;
        }

        type = found;
        return true;
    }

    private JsonObject? Discovery(string path)
    {
        ResourceType[] In(string gv) => Types.Where(t => t.GroupVersion == gv).ToArray();
        JsonObject ResourceList(string gv) => new()
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = gv,
            ["resources"] = new JsonArray(In(gv).Select(t => (JsonNode)new JsonObject
            {
                ["name"] = t.Plural,
                ["singularName"] = t.Kind.ToLowerInvariant(),
                ["namespaced"] = t.Namespaced,
                ["kind"] = t.Kind,
                ["verbs"] = new JsonArray("create", "delete", "get", "list", "patch", "update", "watch"),
                ["shortNames"] = new JsonArray(t.ShortNames.Select(n => (JsonNode)n).ToArray()),
                ["storageVersionHash"] = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(t.Qualified)))[..11],
            }).ToArray()),
        };
        JsonObject Group(string name) => new()
        {
            ["name"] = name,
            ["versions"] = new JsonArray(new JsonObject { ["groupVersion"] = $"{name}/v1", ["version"] = "v1" }),
            ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{name}/v1", ["version"] = "v1" },
        };

        return path.TrimEnd('/') switch
        {
            "/version" => new JsonObject { ["major"] = "1", ["minor"] = "32", ["gitVersion"] = "v1.32.0-tiaki-fake", ["platform"] = "linux/amd64" },
            "/api" => new JsonObject
            {
                ["kind"] = "APIVersions",
                ["versions"] = new JsonArray("v1"),
                ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = new Uri(Url).Authority }),
            },
            "/apis" => new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = new JsonArray(Group("apps"), Group("batch")) },
            "/apis/apps" => Group("apps"),
            "/apis/batch" => Group("batch"),
            "/api/v1" => ResourceList("v1"),
            "/apis/apps/v1" => ResourceList("apps/v1"),
            "/apis/batch/v1" => ResourceList("batch/v1"),
            _ => null,
        };
    }

    private (int, JsonNode) List(ResourceType type, string? ns, string? labelSelector, string? fieldSelector)
    {
        lock (_lock)
        {
            var items = Matching(type, ns, labelSelector, fieldSelector)
                .Select(o =>
                {
                    // Items of a typed list carry no kind/apiVersion of their own; the list does.
                    var item = (JsonObject)o.DeepClone();
                    item.Remove("kind");
                    item.Remove("apiVersion");
                    return (JsonNode)item;
                }).ToArray();
            return (200, new JsonObject
            {
                ["kind"] = type.Kind + "List",
                ["apiVersion"] = type.GroupVersion,
                ["metadata"] = new JsonObject { ["resourceVersion"] = Rv(_resourceVersion) },
                ["items"] = new JsonArray(items),
            });
        }
    }

    private IEnumerable<JsonObject> Matching(ResourceType type, string? ns, string? labelSelector, string? fieldSelector) =>
        _objects.Where(kv => kv.Key.StartsWith(type.Plural + "/", StringComparison.Ordinal))
            .OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => kv.Value)
            .Where(o => Matches(o, ns, labelSelector, fieldSelector));

    private static bool Matches(JsonObject o, string? ns, string? labelSelector, string? fieldSelector)
    {
        var meta = o["metadata"]!;
        if (ns is not null && meta["namespace"]?.GetValue<string>() != ns)
        {
            return false;
        }

        foreach (var req in (fieldSelector ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var (k, v) = Split(req, '=');
            var actual = k switch
            {
                "metadata.name" => meta["name"]?.GetValue<string>(),
                "metadata.namespace" => meta["namespace"]?.GetValue<string>(),
                _ => throw new BadRequestException($"\"{k}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""),
            };
            if (actual != v)
            {
                return false;
            }
        }

        var labels = meta["labels"] as JsonObject;
        foreach (var req in (labelSelector ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            bool ok;
            if (req.Contains("!=", StringComparison.Ordinal))
            {
                var (k, v) = Split(req.Replace("!=", "\u0001", StringComparison.Ordinal), '\u0001');
                ok = labels?[k]?.GetValue<string>() != v;
            }
            else if (req.Contains('=', StringComparison.Ordinal))
            {
                var (k, v) = Split(req.Replace("==", "=", StringComparison.Ordinal), '=');
                ok = labels?[k]?.GetValue<string>() == v;
            }
            else if (req.StartsWith('!'))
            {
                ok = labels?.ContainsKey(req[1..]) != true;
            }
            else
            {
                ok = labels?.ContainsKey(req) == true;
            }

            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static (string, string) Split(string s, char c)
    {
        var i = s.IndexOf(c, StringComparison.Ordinal);
        return i < 0 ? (s, "") : (s[..i].Trim(), s[(i + 1)..].Trim());
    }

    private (int, JsonNode) GetOne(ResourceType type, string ns, string name)
    {
        lock (_lock)
        {
            return _objects.TryGetValue(Key(type.Plural, type.Namespaced ? ns : "", name), out var o)
                ? (200, o.DeepClone())
                : (404, NotFound(type, name));
        }
    }

    private (int, JsonNode) Patch(ResourceType type, string ns, string name, string? contentType, string body)
    {
        var media = (contentType ?? "").Split(';')[0].Trim();
        lock (_lock)
        {
            if (!_objects.TryGetValue(Key(type.Plural, ns, name), out var current))
            {
                return (404, NotFound(type, name));
            }

            JsonNode patched;
            JsonNode? patch;
            try
            {
                patch = JsonNode.Parse(body);
            }
            catch (System.Text.Json.JsonException e)
            {
                return (400, Status(400, "BadRequest", $"error decoding patch: {e.Message}"));
            }

            try
            {
                patched = media switch
                {
                    "application/strategic-merge-patch+json" when patch is JsonObject => Patches.StrategicMerge(current, patch),
                    "application/merge-patch+json" when patch is JsonObject => Patches.MergePatch(current, patch)!,
                    "application/json-patch+json" when patch is JsonArray ops => Patches.JsonPatch(current, ops),
                    "application/strategic-merge-patch+json" or "application/merge-patch+json" or "application/json-patch+json" =>
                        throw new BadRequestException("the body of the request was in an unknown format"),
                    _ => throw new UnsupportedMediaException(media),
                };
            }
            catch (UnsupportedMediaException)
            {
                return (415, Status(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"));
            }
            catch (BadRequestException e)
            {
                return (400, Status(400, "BadRequest", e.Message));
            }
            catch (InvalidOperationException e)
            {
                return (422, Status(422, "Invalid", $"{type.Qualified} \"{name}\" is invalid: {e.Message}", type, name));
            }

            var sentVersion = (patch as JsonObject)?["metadata"]?["resourceVersion"]?.GetValue<string>();
            if (sentVersion is not null && sentVersion != current["metadata"]!["resourceVersion"]!.GetValue<string>())
            {
                return (409, Conflict(type, name));
            }

            return Store(type, ns, name, current, patched.AsObject());
        }
    }

    private (int, JsonNode) Update(ResourceType type, string ns, string name, string body)
    {
        lock (_lock)
        {
            if (!_objects.TryGetValue(Key(type.Plural, ns, name), out var current))
            {
                return (404, NotFound(type, name));
            }

            var updated = JsonNode.Parse(body)!.AsObject();
            var sentVersion = updated["metadata"]?["resourceVersion"]?.GetValue<string>();
            if (sentVersion is not null && sentVersion != current["metadata"]!["resourceVersion"]!.GetValue<string>())
            {
                return (409, Conflict(type, name));
            }

            return Store(type, ns, name, current, updated);
        }
    }

    private (int, JsonNode) CreateFromApi(ResourceType type, string ns, string body)
    {
        lock (_lock)
        {
            var obj = JsonNode.Parse(body)!.AsObject();
            var name = obj["metadata"]?["name"]?.GetValue<string>() ?? "";
            if (_objects.ContainsKey(Key(type.Plural, type.Namespaced ? ns : "", name)))
            {
                return (409, Status(409, "AlreadyExists", $"{type.Qualified} \"{name}\" already exists", type, name));
            }

            return (201, Insert(type, ns, obj).DeepClone());
        }
    }

    private (int, JsonNode) Delete(ResourceType type, string ns, string name)
    {
        lock (_lock)
        {
            var key = Key(type.Plural, type.Namespaced ? ns : "", name);
            if (!_objects.Remove(key, out var gone))
            {
                return (404, NotFound(type, name));
            }

            Record("DELETED", type.Plural, ns, gone, ++_resourceVersion);
            return (200, new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Success", ["details"] = new JsonObject { ["name"] = name, ["kind"] = type.Plural } });
        }
    }

    /// <summary>Validation and bookkeeping the API server does on every write.</summary>
    private (int, JsonNode) Store(ResourceType type, string ns, string name, JsonObject current, JsonObject next)
    {
        next["kind"] = type.Kind;
        next["apiVersion"] = type.GroupVersion;
        var meta = next["metadata"]!.AsObject();
        if (meta["name"]?.GetValue<string>() != name || (type.Namespaced && meta["namespace"]?.GetValue<string>() != ns))
        {
            return (400, Status(400, "BadRequest", "the name of the object does not match the name on the URL"));
        }

        var invalid = Validate(next);
        if (invalid is not null)
        {
            return (422, Status(422, "Invalid", $"{type.Kind}.{type.Group} \"{name}\" is invalid: {invalid}", type, name));
        }

        // Immutable metadata comes from the stored object whatever the client sent.
        foreach (var field in new[] { "uid", "creationTimestamp", "generation" })
        {
            meta[field] = current["metadata"]![field]?.DeepClone();
        }

        // status is a subresource: writes to the main resource never change it.
        next["status"] = current["status"]?.DeepClone();
        if (current["spec"]?.ToJsonString() != next["spec"]?.ToJsonString() && meta["generation"] is not null)
        {
            meta["generation"] = meta["generation"]!.GetValue<long>() + 1;
        }

        if (next.ToJsonString() == current.ToJsonString())
        {
            // A no-op write keeps the resourceVersion, like the real server.
            return (200, current.DeepClone());
        }

        meta["resourceVersion"] = Rv(++_resourceVersion);
        _objects[Key(type.Plural, ns, name)] = next;
        Record("MODIFIED", type.Plural, ns, next, _resourceVersion);
        return (200, next.DeepClone());
    }

    private static string? Validate(JsonObject obj)
    {
        var spec = obj["kind"]!.GetValue<string>() switch
        {
            "CronJob" => obj["spec"]?["jobTemplate"]?["spec"]?["template"]?["spec"],
            "Pod" => obj["spec"],
            "Deployment" or "StatefulSet" or "DaemonSet" => obj["spec"]?["template"]?["spec"],
            _ => null,
        };
        var prefix = obj["kind"]!.GetValue<string>() switch
        {
            "CronJob" => "spec.jobTemplate.spec.template.spec",
            "Pod" => "spec",
            _ => "spec.template.spec",
        };
        if (spec is null)
        {
            return null;
        }

        foreach (var list in new[] { "initContainers", "containers" })
        {
            var i = 0;
            foreach (var c in spec[list] as JsonArray ?? [])
            {
                if (string.IsNullOrWhiteSpace(c?["image"]?.GetValue<string>()))
                {
                    return $"{prefix}.{list}[{i}].image: Required value";
                }

                if (string.IsNullOrWhiteSpace(c?["name"]?.GetValue<string>()))
                {
                    return $"{prefix}.{list}[{i}].name: Required value";
                }

                i++;
            }
        }

        return spec["containers"] is JsonArray { Count: > 0 } ? null : $"{prefix}.containers: Required value";
    }

    private JsonObject Insert(ResourceType type, string ns, JsonObject obj)
    {
        obj["kind"] = type.Kind;
        obj["apiVersion"] = type.GroupVersion;
        var meta = obj["metadata"]!.AsObject();
        if (type.Namespaced)
        {
            meta["namespace"] = ns;
        }

        meta["uid"] = Guid.NewGuid().ToString();
        meta["creationTimestamp"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        if (type.IsWorkload || type.Kind == "CronJob")
        {
            meta["generation"] = 1L;
            ApplyDefaults(type.Kind, obj["spec"]!.AsObject());
        }

        meta["resourceVersion"] = Rv(++_resourceVersion);
        var name = meta["name"]!.GetValue<string>();
        _objects[Key(type.Plural, type.Namespaced ? ns : "", name)] = obj;
        Record("ADDED", type.Plural, ns, obj, _resourceVersion);
        return obj;
    }

    /// <summary>The defaults the API server fills in on create (k8s.io/api apps/v1 and batch/v1 defaulters).</summary>
    private static void ApplyDefaults(string kind, JsonObject spec)
    {
        switch (kind)
        {
            case "Deployment":
                spec["replicas"] ??= 1;
                spec["progressDeadlineSeconds"] ??= 600;
                spec["revisionHistoryLimit"] ??= 10;
                spec["strategy"] ??= new JsonObject { ["type"] = "RollingUpdate" };
                if (spec["strategy"]!["type"]?.GetValue<string>() == "RollingUpdate")
                {
                    spec["strategy"]!["rollingUpdate"] ??= new JsonObject { ["maxUnavailable"] = "25%", ["maxSurge"] = "25%" };
                }

                break;
            case "StatefulSet":
                spec["replicas"] ??= 1;
                spec["podManagementPolicy"] ??= "OrderedReady";
                spec["revisionHistoryLimit"] ??= 10;
                spec["updateStrategy"] ??= new JsonObject { ["type"] = "RollingUpdate" };
                if (spec["updateStrategy"]!["type"]?.GetValue<string>() == "RollingUpdate")
                {
                    spec["updateStrategy"]!["rollingUpdate"] ??= new JsonObject { ["partition"] = 0 };
                }

                break;
            case "DaemonSet":
                spec["revisionHistoryLimit"] ??= 10;
                spec["updateStrategy"] ??= new JsonObject { ["type"] = "RollingUpdate" };
                if (spec["updateStrategy"]!["type"]?.GetValue<string>() == "RollingUpdate")
                {
                    spec["updateStrategy"]!["rollingUpdate"] ??= new JsonObject { ["maxUnavailable"] = 1, ["maxSurge"] = 0 };
                }

                break;
            case "CronJob":
                spec["concurrencyPolicy"] ??= "Allow";
                spec["suspend"] ??= false;
                spec["successfulJobsHistoryLimit"] ??= 3;
                spec["failedJobsHistoryLimit"] ??= 1;
                break;
        }
    }

    private void Record(string type, string plural, string ns, JsonObject obj, long rv)
    {
        _events.Add(new WatchEvent(rv, type, plural, ns, (JsonObject)obj.DeepClone()));
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private async Task WatchAsync(HttpContext ctx, ResourceType type, string? ns)
    {
        var labelSelector = (string?)ctx.Request.Query["labelSelector"];
        var fieldSelector = (string?)ctx.Request.Query["fieldSelector"];
        var timeout = int.TryParse(ctx.Request.Query["timeoutSeconds"], out var t) ? TimeSpan.FromSeconds(t) : TimeSpan.FromMinutes(5);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        var writer = ctx.Response.BodyWriter;
        long since;
        var initial = new List<JsonObject>();
        lock (_lock)
        {
            var requested = (string?)ctx.Request.Query["resourceVersion"];
            if (string.IsNullOrEmpty(requested) || requested == "0")
            {
                // No version: the watch starts with the current state as ADDED events.
                since = _resourceVersion;
                initial.AddRange(Matching(type, ns, labelSelector, fieldSelector).Select(o => (JsonObject)o.DeepClone()));
            }
            else
            {
                since = long.Parse(requested, CultureInfo.InvariantCulture);
            }
        }

        // Headers go out at once: clients wait for them before they consider the watch established.
        await ctx.Response.StartAsync();
        await ctx.Response.Body.FlushAsync();
        foreach (var o in initial)
        {
            await WriteEventAsync(ctx, "ADDED", o);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, _stop.Token);
        deadline.CancelAfter(timeout);
        try
        {
            while (!deadline.IsCancellationRequested)
            {
                List<WatchEvent> pending;
                Task changed;
                lock (_lock)
                {
                    pending = _events.Where(e => e.ResourceVersion > since && e.Plural == type.Plural && Matches(e.Object, ns, labelSelector, fieldSelector)).ToList();
                    since = Math.Max(since, _resourceVersion);
                    changed = _changed.Task;
                }

                foreach (var e in pending)
                {
                    await WriteEventAsync(ctx, e.Type, e.Object);
                }

                await changed.WaitAsync(deadline.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away or the watch timed out: the stream just ends, as on a real server.
        }
    }

    private static async Task WriteEventAsync(HttpContext ctx, string type, JsonObject obj)
    {
        var line = new JsonObject { ["type"] = type, ["object"] = obj.DeepClone() }.ToJsonString() + "\n";
        await ctx.Response.WriteAsync(line);
        await ctx.Response.Body.FlushAsync();
    }

    private static async Task WriteAsync(HttpContext ctx, int code, JsonNode body)
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body.ToJsonString());
    }

    private static JsonObject Status(int code, string reason, string message, ResourceType? type = null, string? name = null)
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = message,
            ["reason"] = reason,
            ["code"] = code,
        };
        if (type is not null)
        {
            var details = new JsonObject { ["group"] = type.Group, ["kind"] = type.Plural };
            if (name is not null)
            {
                details["name"] = name;
            }

            status["details"] = details;
        }

        return status;
    }

    private static JsonObject NotFound(ResourceType type, string name) => Status(404, "NotFound", $"{type.Qualified} \"{name}\" not found", type, name);

    private static JsonObject Conflict(ResourceType type, string name) => Status(409, "Conflict",
        $"Operation cannot be fulfilled on {type.Qualified} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", type, name);

    private static string Key(string plural, string ns, string name) => $"{plural}/{ns}/{name}";

    private static string Rv(long v) => v.ToString(CultureInfo.InvariantCulture);

    private sealed class BadRequestException(string message) : Exception(message);

    private sealed class UnsupportedMediaException(string message) : Exception(message);

    private static X509Certificate2 SelfSignedLoopbackCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=tiaki-fake-kube-apiserver", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }

    private static string Kubeconfig(string url, X509Certificate2 cert, string token)
    {
        var ca = Convert.ToBase64String(Encoding.ASCII.GetBytes(cert.ExportCertificatePem()));
        return $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: {url}
                certificate-authority-data: {ca}
            users:
            - name: tiaki-agent
              user:
                token: {token}
            contexts:
            - name: fake
              context:
                cluster: fake
                user: tiaki-agent
                namespace: default
            current-context: fake
            """;
    }
}
