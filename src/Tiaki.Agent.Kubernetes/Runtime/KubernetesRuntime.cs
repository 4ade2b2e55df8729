using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Tiaki.Agent.Core.Runtime;
using Tiaki.Contracts;
using Tiaki.Registry.Auth;

namespace Tiaki.Agent.Kubernetes.Runtime;

/// <summary>
/// The Kubernetes side of the agent: reports every container of the watched workloads and changes
/// one container's image with a strategic merge patch, following the rollout and undoing it when
/// the new pods do not come up.
/// </summary>
internal sealed partial class KubernetesRuntime(
    IKubernetes client,
    KubernetesRuntimeOptions options,
    TimeProvider time,
    ILogger<KubernetesRuntime> logger) : IContainerRuntime
{
    // Annotations written on the workload so `kubectl describe` shows what Tiaki did and the
    // rollback command knows where to go back to.
    public const string PreviousImageAnnotation = "tiaki.dev/previous-image";

    /// <summary>JSON map container → image it ran before Tiaki last changed it, so a rollback of one container survives changes to another.</summary>
    public const string PreviousImagesAnnotation = "tiaki.dev/previous-images";
    public const string UpdatedImageAnnotation = "tiaki.dev/updated-image";
    public const string UpdatedByAnnotation = "tiaki.dev/updated-by";
    public const string UpdatedAtAnnotation = "tiaki.dev/updated-at";
    public const string LastActionAnnotation = "tiaki.dev/last-action";
    public const string EnableAnnotation = "tiaki.dev/enable";

    // Waiting reasons after which a pod will not come up without someone changing something.
    private static readonly HashSet<string> FatalWaitingReasons = new(StringComparer.Ordinal)
    {
        "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName",
        "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
    };

    private static readonly WorkloadKind[] Kinds = Enum.GetValues<WorkloadKind>();

    public string AgentType => AgentTypes.Kubernetes;

    public async Task<IReadOnlyList<ScannedContainer>> ScanAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<string?> scopes = options.WatchNamespaces.Count == 0 ? [null] : [.. options.WatchNamespaces];
        var result = new List<ScannedContainer>();
        var denied = new List<string>();
        var calls = 0;
        var pullSecrets = new Dictionary<string, IReadOnlyDictionary<string, RegistryCredential>>(StringComparer.Ordinal);
        foreach (var ns in scopes)
        {
            var workloads = new List<Workload>();
            foreach (var kind in Kinds)
            {
                calls++;
                try
                {
                    workloads.AddRange(await Workload.ListAsync(client, kind, ns, cancellationToken));
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden)
                {
                    // One denied kind or namespace must not hide the rest; it is logged, and the scan fails
                    // only when nothing at all could be listed.
                    var what = $"list {Workload.Resource(kind)} in {(ns is null ? "all namespaces" : $"namespace {ns}")}";
                    denied.Add(what);
                    LogListDenied(what, StatusMessage(e));
                }
            }

            calls++;
            IList<V1Pod> pods;
            try
            {
                pods = ns is null
                    ? (await client.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: cancellationToken)).Items
                    : (await client.CoreV1.ListNamespacedPodAsync(ns, cancellationToken: cancellationToken)).Items;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden)
            {
                var what = $"list pods in {(ns is null ? "all namespaces" : $"namespace {ns}")}";
                denied.Add(what);
                LogListDenied(what, StatusMessage(e));
                pods = [];
            }

            foreach (var w in workloads.Where(w => !IsDisabled(w)))
            {
                var owned = PodsOf(w, pods);
                var credentials = await PullCredentialsAsync(w, owned, pullSecrets, cancellationToken);
                result.AddRange(Containers(w, owned, credentials));
            }
        }

        if (denied.Count == calls)
        {
            throw new KubernetesAccessDeniedException(
                $"Kubernetes RBAC denied every read the agent needs ({string.Join("; ", denied)}). " +
                "Grant the agent's service account get/list/watch on deployments, statefulsets, daemonsets, cronjobs and pods " +
                "(see deploy/helm/tiaki-agent-k8s), or set WATCH_NAMESPACES to the namespaces it may read.");
        }

        LogScanned(result.Count, scopes.Count);
        return result;
    }

    public async Task<CommandOutcome> ExecuteAsync(AgentCommand command, ScannedContainer target, CancellationToken cancellationToken)
    {
        var log = new StringBuilder();
        if (!Workload.TryParseId(target.Report.ContainerId, out var kind, out var ns, out var name, out var container))
        {
            return CommandOutcome.Failed($"'{target.Report.ContainerId}' is not a Kubernetes container id (<kind>/<namespace>/<workload>/<container>)", "");
        }

        try
        {
            var workload = await Workload.ReadAsync(client, kind, ns, name, cancellationToken);
            var spec = FindContainer(workload.PodSpec, container);
            if (spec is null)
            {
                return CommandOutcome.Failed($"{kind} {ns}/{name} has no container '{container}' any more", "");
            }

            var current = spec.Value.Container.Image;
            var (wanted, error) = TargetImage(command, workload, container, current);
            if (wanted is null)
            {
                return CommandOutcome.Failed(error!, "");
            }

            if (wanted == current)
            {
                return CommandOutcome.Ok($"{kind} {ns}/{name} container {container} already runs {current}; nothing to do");
            }

            var action = command.Type == CommandTypes.Rollback ? "rollback" : "deploy";
            Append(log, $"{action}: {kind} {ns}/{name} container {container}: {current} -> {wanted}");
            LogChanging(action, kind, ns, name, container, current, wanted);
            await PatchImageAsync(workload, container, spec.Value.Init, wanted, current, $"{action} (command {command.CommandId})", cancellationToken);

            var rollout = await FollowRolloutAsync(kind, ns, name, wanted, log, cancellationToken);
            if (rollout is null)
            {
                LogRolledOut(kind, ns, name, wanted);
                return CommandOutcome.Ok(log.ToString());
            }

            // The new image did not come up: put the previous one back so the workload keeps serving.
            LogRolloutFailed(kind, ns, name, wanted, rollout);
            Append(log, $"rollout failed: {rollout}; restoring {current}");
            // The failed image is no place to roll back to later: the history stays as it was before this deploy.
            await PatchImageAsync(workload, container, spec.Value.Init, current, wanted, $"automatic rollback after failed {action} (command {command.CommandId}): {rollout}", cancellationToken, keepHistory: true);
            var back = await FollowRolloutAsync(kind, ns, name, current, log, cancellationToken);
            Append(log, back is null ? $"restored {current}" : $"restoring {current} did not complete either: {back}");
            return CommandOutcome.Failed(
                $"{rollout}; rolled back to {current}" + (back is null ? "" : $" (rollback incomplete: {back})"),
                log.ToString());
        }
        catch (HttpOperationException e)
        {
            var message = ApiError(e, kind, ns, name);
            LogApiError(kind, ns, name, message);
            Append(log, message);
            return CommandOutcome.Failed(message, log.ToString());
        }
        catch (HttpRequestException e)
        {
            var message = $"cannot reach the Kubernetes API: {e.Message}";
            Append(log, message);
            return CommandOutcome.Failed(message, log.ToString());
        }
    }

    private static bool IsDisabled(Workload w) =>
        w.Annotations.TryGetValue(EnableAnnotation, out var v) && string.Equals(v.Trim(), "false", StringComparison.OrdinalIgnoreCase);

    private static List<V1Pod> PodsOf(Workload w, IList<V1Pod> pods)
    {
        if (w.Kind != WorkloadKind.CronJob)
        {
            return pods.Where(w.Selects).ToList();
        }

        // CronJob pods belong to Jobs named <cronjob>-<scheduled time>; the Job controller labels them job-name.
        return pods.Where(p => p.Namespace() == w.Namespace
                && p.Metadata.Labels?.TryGetValue("job-name", out var job) == true
                && job.StartsWith(w.Name + "-", StringComparison.Ordinal)
                && p.Metadata.OwnerReferences?.Any(o => o.Kind == "Job") == true)
            .OrderByDescending(p => p.Metadata.CreationTimestamp)
            .ToList();
    }

    /// <summary>
    /// The credentials kubelet would pull this workload's images with: its <c>imagePullSecrets</c>
    /// (also the service account's, as its pods carry them), each secret read once per scan. An unreadable secret is logged and skipped; the check then
    /// runs with the agent's own credentials and says why the registry refused.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, RegistryCredential>?> PullCredentialsAsync(
        Workload w, List<V1Pod> pods, Dictionary<string, IReadOnlyDictionary<string, RegistryCredential>> cache, CancellationToken ct)
    {
        // The template's secrets, then those its pods carry: the ServiceAccount admission plugin adds the
        // service account's imagePullSecrets to each pod, never to the template.
        var names = (w.PodSpec.ImagePullSecrets ?? [])
            .Concat(pods.SelectMany(p => p.Spec?.ImagePullSecrets ?? []))
            .Select(r => r.Name)
            .Where(n => !string.IsNullOrEmpty(n))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (names.Count == 0)
        {
            return null;
        }

        var merged = new Dictionary<string, RegistryCredential>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in names)
        {
            var key = $"{w.Namespace}/{name}";
            if (!cache.TryGetValue(key, out var credentials))
            {
                credentials = await ReadPullSecretAsync(w.Namespace, name, ct);
                cache[key] = credentials;
            }

            // Like kubelet, the first secret listed that has a registry wins for it.
            foreach (var (registry, credential) in credentials)
            {
                merged.TryAdd(registry, credential);
            }
        }

        return merged.Count > 0 ? merged : null;
    }

    private async Task<IReadOnlyDictionary<string, RegistryCredential>> ReadPullSecretAsync(string ns, string name, CancellationToken ct)
    {
        try
        {
            var secret = await client.CoreV1.ReadNamespacedSecretAsync(name, ns, cancellationToken: ct);
            var (credentials, error) = PullSecret.Parse(secret.Type, secret.Data);
            if (error is not null)
            {
                LogPullSecretUnusable(ns, name, error);
            }

            return credentials;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotFound)
        {
            LogPullSecretUnusable(ns, name, e.Response.StatusCode == HttpStatusCode.Forbidden
                ? $"RBAC denied reading it ({StatusMessage(e)}); grant the agent get on secrets"
                : "not found");
            return new Dictionary<string, RegistryCredential>();
        }
    }

    private static IEnumerable<ScannedContainer> Containers(Workload w, List<V1Pod> pods, IReadOnlyDictionary<string, RegistryCredential>? credentials)
    {
        var labels = w.Annotations
            .Where(kv => kv.Key.StartsWith(Workload.AnnotationPrefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

        foreach (var (c, init) in (w.PodSpec.InitContainers ?? []).Select(c => (c, true)).Concat(w.PodSpec.Containers.Select(c => (c, false))))
        {
            var image = ImageName.Parse(c.Image);
            // Only pods that run this exact image say what it resolved to; during a rollout old pods still run the old one.
            var imageIds = pods
                .Where(p => (init ? p.Spec.InitContainers : p.Spec.Containers)?.Any(pc => pc.Name == c.Name && pc.Image == c.Image) == true)
                .SelectMany(p => (init ? p.Status?.InitContainerStatuses : p.Status?.ContainerStatuses) ?? [])
                .Where(s => s.Name == c.Name)
                .Select(s => s.ImageID)
                .Where(id => !string.IsNullOrEmpty(id))
                .Distinct(StringComparer.Ordinal)
                .ToList();
            var digest = image.Digest ?? imageIds.Select(ImageName.DigestOfImageId).FirstOrDefault(d => d is not null) ?? "";
            var repoDigests = imageIds.Select(ImageName.RepoDigestOfImageId).OfType<string>().Distinct(StringComparer.Ordinal).ToList();

            var report = new ContainerReport(
                ContainerId: w.Id(c.Name),
                Name: $"{w.Name}/{c.Name}",
                Image: image.Repository,
                Tag: image.Tag ?? (image.Digest is null ? "latest" : ""),
                Digest: digest,
                Namespace: w.Namespace)
            {
                Workload = w.Kind.ToString(),
                Labels = labels.Count > 0 ? labels : null,
            };
            yield return new ScannedContainer(report, c.Image, repoDigests, labels) { RegistryCredentials = credentials };
        }
    }

    private static (V1Container Container, bool Init)? FindContainer(V1PodSpec spec, string name)
    {
        var c = spec.Containers.FirstOrDefault(c => c.Name == name);
        if (c is not null)
        {
            return (c, false);
        }

        var init = spec.InitContainers?.FirstOrDefault(c => c.Name == name);
        return init is null ? null : (init, true);
    }

    private static (string? Image, string? Error) TargetImage(AgentCommand command, Workload workload, string container, string current)
    {
        var repository = ImageName.Parse(current).Repository;
        if (command.Type == CommandTypes.Rollback)
        {
            if (!string.IsNullOrWhiteSpace(command.PreviousTag))
            {
                return ($"{repository}:{command.PreviousTag}", null);
            }

            // Without a tag from the server, go back to what the last deploy recorded on the workload.
            var recorded = PreviousImages(workload).GetValueOrDefault(container);
            return recorded is not null
                ? (recorded, null)
                : (null, $"rollback of {workload.Kind} {workload.Namespace}/{workload.Name} container {container}: no previous tag in the command and no {PreviousImageAnnotation} recorded on the workload");
        }

        if (string.IsNullOrWhiteSpace(command.LatestTag))
        {
            return (null, "deploy command has no target tag (latestTag)");
        }

        // The command's image names the repository the server saw; it must be the one this container runs,
        // or the agent would put a different application into the pod.
        if (!string.IsNullOrWhiteSpace(command.Image))
        {
            var asked = ImageName.Parse(command.Image).Repository;
            if (!string.Equals(asked, repository, StringComparison.Ordinal))
            {
                return (null, $"deploy asks for {asked} but {workload.Kind} {workload.Namespace}/{workload.Name} container {container} runs {repository}");
            }
        }

        return ($"{repository}:{command.LatestTag}", null);
    }

    private async Task PatchImageAsync(Workload workload, string container, bool init, string image, string previous, string action, CancellationToken ct, bool keepHistory = false)
    {
        var at = time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var previousImages = PreviousImages(workload);
        if (!keepHistory)
        {
            previousImages[container] = previous;
        }

        var json = BuildImagePatch(workload.Kind, container, init, image, new Dictionary<string, string>
        {
            [PreviousImageAnnotation] = keepHistory && workload.Annotations.TryGetValue(PreviousImageAnnotation, out var before) ? before : $"{container}={previous}",
            [PreviousImagesAnnotation] = JsonMap(previousImages),
            [UpdatedImageAnnotation] = $"{container}={image}",
            [UpdatedByAnnotation] = options.AgentName,
            [UpdatedAtAnnotation] = at,
            [LastActionAnnotation] = action,
        });
        await Workload.PatchAsync(client, workload.Kind, workload.Namespace, workload.Name, json, ct);
    }

    private static SortedDictionary<string, string> PreviousImages(Workload workload)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (workload.Annotations.TryGetValue(PreviousImagesAnnotation, out var json))
        {
            try
            {
                using var doc = JsonDocument.Parse(json);
                foreach (var p in doc.RootElement.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String))
                {
                    map[p.Name] = p.Value.GetString()!;
                }
            }
            catch (JsonException)
            {
                // Someone edited the annotation by hand: start a fresh map rather than fail the deploy.
            }
        }
        else if (workload.Annotations.TryGetValue(PreviousImageAnnotation, out var single) && single.IndexOf('=', StringComparison.Ordinal) is > 0 and var eq)
        {
            map[single[..eq]] = single[(eq + 1)..];
        }

        return map;
    }

    private static string JsonMap(IEnumerable<KeyValuePair<string, string>> map)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var (k, v) in map)
            {
                w.WriteString(k, v);
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// A strategic merge patch naming the container by its merge key (name), so the API server
    /// changes that one image and leaves every other field and container as it is.
    /// </summary>
    internal static string BuildImagePatch(WorkloadKind kind, string container, bool init, string image, IReadOnlyDictionary<string, string> annotations)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartObject("metadata");
            w.WriteStartObject("annotations");
            foreach (var (k, v) in annotations)
            {
                w.WriteString(k, v);
            }

            w.WriteEndObject();
            w.WriteEndObject();
            var path = Workload.PodSpecPath(kind);
            foreach (var segment in path)
            {
                w.WriteStartObject(segment);
            }

            w.WriteStartArray(init ? "initContainers" : "containers");
            w.WriteStartObject();
            w.WriteString("name", container);
            w.WriteString("image", image);
            w.WriteEndObject();
            w.WriteEndArray();
            foreach (var _ in path)
            {
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Follows the rollout of <paramref name="image"/>; null when it completed, else why it failed.</summary>
    private async Task<string?> FollowRolloutAsync(WorkloadKind kind, string ns, string name, string image, StringBuilder log, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        var last = "";
        while (true)
        {
            var w = await Workload.ReadAsync(client, kind, ns, name, ct);
            if (!w.Rollout.Follows)
            {
                Append(log, kind == WorkloadKind.CronJob
                    ? "CronJob patched; the next Job it starts runs the new image"
                    : $"{kind} uses the OnDelete update strategy: pods take the new image when they are deleted");
                return null;
            }

            var status = w.Rollout.Describe();
            if (status != last)
            {
                Append(log, status);
                last = status;
            }

            if (w.Rollout.Complete)
            {
                return null;
            }

            // Pod reasons first: they say why (ImagePullBackOff) where the deadline condition only says that it took too long.
            var podFailure = await FailingPodAsync(w, image, ct);
            if (podFailure is not null)
            {
                return podFailure;
            }

            if (w.Rollout.DeadlineExceeded is { } deadline)
            {
                return $"ProgressDeadlineExceeded: {deadline}";
            }

            if (time.GetElapsedTime(started) > options.RolloutTimeout)
            {
                return $"rollout did not complete within {options.RolloutTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s ({status})";
            }

            await Task.Delay(options.RolloutPollInterval, time, ct);
        }
    }

    private async Task<string?> FailingPodAsync(Workload w, string image, CancellationToken ct)
    {
        if (w.Selector is null)
        {
            return null;
        }

        var pods = await client.CoreV1.ListNamespacedPodAsync(w.Namespace, labelSelector: SelectorString(w.Selector), cancellationToken: ct);
        foreach (var pod in pods.Items.Where(w.Selects))
        {
            var runsNew = (pod.Spec.Containers ?? []).Concat(pod.Spec.InitContainers ?? []).Any(c => c.Image == image);
            if (!runsNew)
            {
                continue;
            }

            var statuses = (pod.Status?.InitContainerStatuses ?? []).Concat(pod.Status?.ContainerStatuses ?? []);
            foreach (var s in statuses)
            {
                var waiting = s.State?.Waiting;
                if (waiting?.Reason is { } reason && FatalWaitingReasons.Contains(reason))
                {
                    return $"{reason}: pod {pod.Name()} container {s.Name}" + (string.IsNullOrEmpty(waiting.Message) ? "" : $": {waiting.Message}");
                }
            }
        }

        return null;
    }

    private static string? SelectorString(V1LabelSelector selector) =>
        selector.MatchLabels is { Count: > 0 } labels ? string.Join(',', labels.Select(kv => $"{kv.Key}={kv.Value}")) : null;

    private static string ApiError(HttpOperationException e, WorkloadKind kind, string ns, string name)
    {
        var server = StatusMessage(e);
        return e.Response.StatusCode switch
        {
            HttpStatusCode.Forbidden =>
                $"Kubernetes RBAC denied the agent: {server}. Grant its service account get/list/watch/patch on {Workload.Resource(kind)} in namespace {ns} (the Helm chart's RBAC does).",
            HttpStatusCode.Unauthorized =>
                "Kubernetes API rejected the agent's credentials (401 Unauthorized): check the service account token or KUBECONFIG.",
            HttpStatusCode.NotFound => $"{kind} {ns}/{name} not found: {server}",
            HttpStatusCode.Conflict => $"{kind} {ns}/{name} changed concurrently (409 Conflict): {server}",
            HttpStatusCode.UnprocessableEntity => $"Kubernetes rejected the change to {kind} {ns}/{name}: {server}",
            _ => $"Kubernetes API error {(int)e.Response.StatusCode} on {kind} {ns}/{name}: {server}",
        };
    }

    /// <summary>The API server explains itself in a Status object's message; that is what users need to see.</summary>
    private static string StatusMessage(HttpOperationException e)
    {
        var content = e.Response.Content;
        if (!string.IsNullOrWhiteSpace(content))
        {
            try
            {
                using var doc = JsonDocument.Parse(content);
                if (doc.RootElement.ValueKind == JsonValueKind.Object
                    && doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                {
                    return m.GetString()!;
                }
            }
            catch (JsonException)
            {
                // Not a Status object (a proxy's HTML page, say): fall back to the status line.
            }
        }

        return $"{(int)e.Response.StatusCode} {e.Response.ReasonPhrase}";
    }

    private static void Append(StringBuilder log, string line) => log.Append(line).Append('\n');
}

/// <summary>The agent may not read anything it watches: a setup problem the user must fix, not a transient failure.</summary>
internal sealed class KubernetesAccessDeniedException(string message) : Exception(message);
