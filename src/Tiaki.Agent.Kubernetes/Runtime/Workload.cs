using k8s;
using k8s.Models;

namespace Tiaki.Agent.Kubernetes.Runtime;

internal enum WorkloadKind
{
    Deployment,
    StatefulSet,
    DaemonSet,
    CronJob,
}

/// <summary>
/// What the runtime needs from any of the four workload kinds: the pod template, how to find its
/// pods, and its rollout progress. Each kind keeps these in different fields; this is the one place
/// that knows where.
/// </summary>
internal sealed record Workload(
    WorkloadKind Kind,
    string Namespace,
    string Name,
    IReadOnlyDictionary<string, string> Annotations,
    V1PodSpec PodSpec,
    V1LabelSelector? Selector,
    RolloutStatus Rollout)
{
    public const string AnnotationPrefix = "tiaki.dev/";

    public string Id(string container) => $"{KindSlug(Kind)}/{Namespace}/{Name}/{container}";

    public static string KindSlug(WorkloadKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>Where the pod spec sits in this kind's object, for the strategic merge patch.</summary>
    public static string[] PodSpecPath(WorkloadKind kind) => kind == WorkloadKind.CronJob
        ? ["spec", "jobTemplate", "spec", "template", "spec"]
        : ["spec", "template", "spec"];

    /// <summary>The resource name RBAC rules and API errors use.</summary>
    public static string Resource(WorkloadKind kind) => kind switch
    {
        WorkloadKind.Deployment => "deployments.apps",
        WorkloadKind.StatefulSet => "statefulsets.apps",
        WorkloadKind.DaemonSet => "daemonsets.apps",
        _ => "cronjobs.batch",
    };

    public static bool TryParseId(string containerId, out WorkloadKind kind, out string ns, out string name, out string container)
    {
        var parts = containerId.Split('/');
        kind = default;
        (ns, name, container) = ("", "", "");
        if (parts.Length != 4 || !Enum.TryParse(parts[0], ignoreCase: true, out kind) || !Enum.IsDefined(kind))
        {
            return false;
        }

        (ns, name, container) = (parts[1], parts[2], parts[3]);
        return ns.Length > 0 && name.Length > 0 && container.Length > 0;
    }

    public static Workload From(V1Deployment d)
    {
        var s = d.Status;
        return new(WorkloadKind.Deployment, d.Namespace(), d.Name(), AnnotationsOf(d.Metadata), d.Spec.Template.Spec, d.Spec.Selector,
            new RolloutStatus(
                Generation: d.Metadata.Generation ?? 0,
                ObservedGeneration: s?.ObservedGeneration,
                Desired: d.Spec.Replicas ?? 1,
                Total: s?.Replicas ?? 0,
                Updated: s?.UpdatedReplicas ?? 0,
                Available: s?.AvailableReplicas ?? 0,
                RevisionsMatch: true,
                Follows: true,
                DeadlineExceeded: s?.Conditions?.FirstOrDefault(c => c.Type == "Progressing" && c.Status == "False" && c.Reason == "ProgressDeadlineExceeded")?.Message,
                ProgressDeadlineSeconds: d.Spec.ProgressDeadlineSeconds));
    }

    public static Workload From(V1StatefulSet st)
    {
        var s = st.Status;
        var desired = st.Spec.Replicas ?? 1;
        var onDelete = st.Spec.UpdateStrategy?.Type == "OnDelete";
        return new(WorkloadKind.StatefulSet, st.Namespace(), st.Name(), AnnotationsOf(st.Metadata), st.Spec.Template.Spec, st.Spec.Selector,
            new RolloutStatus(
                Generation: st.Metadata.Generation ?? 0,
                ObservedGeneration: s?.ObservedGeneration,
                Desired: desired,
                Total: s?.Replicas ?? 0,
                Updated: s?.UpdatedReplicas ?? 0,
                Available: s?.AvailableReplicas ?? s?.ReadyReplicas ?? 0,
                RevisionsMatch: s?.UpdateRevision is null || s.UpdateRevision == s.CurrentRevision,
                // With OnDelete the controller never replaces pods by itself: there is no rollout to follow.
                Follows: !onDelete,
                DeadlineExceeded: null,
                ProgressDeadlineSeconds: null));
    }

    public static Workload From(V1DaemonSet ds)
    {
        var s = ds.Status;
        var onDelete = ds.Spec.UpdateStrategy?.Type == "OnDelete";
        return new(WorkloadKind.DaemonSet, ds.Namespace(), ds.Name(), AnnotationsOf(ds.Metadata), ds.Spec.Template.Spec, ds.Spec.Selector,
            new RolloutStatus(
                Generation: ds.Metadata.Generation ?? 0,
                ObservedGeneration: s?.ObservedGeneration,
                Desired: s?.DesiredNumberScheduled ?? 0,
                Total: s?.CurrentNumberScheduled ?? 0,
                Updated: s?.UpdatedNumberScheduled ?? 0,
                Available: s?.NumberAvailable ?? 0,
                RevisionsMatch: true,
                Follows: !onDelete,
                DeadlineExceeded: null,
                ProgressDeadlineSeconds: null));
    }

    public static Workload From(V1CronJob cj) =>
        new(WorkloadKind.CronJob, cj.Namespace(), cj.Name(), AnnotationsOf(cj.Metadata), cj.Spec.JobTemplate.Spec.Template.Spec, Selector: null,
            // A CronJob has nothing to roll out: the next Job it starts uses the new image.
            new RolloutStatus(cj.Metadata.Generation ?? 0, cj.Metadata.Generation, 0, 0, 0, 0, true, Follows: false, null, null));

    private static Dictionary<string, string> AnnotationsOf(V1ObjectMeta meta) =>
        meta.Annotations is null ? [] : new Dictionary<string, string>(meta.Annotations, StringComparer.Ordinal);

    public static async Task<IReadOnlyList<Workload>> ListAsync(IKubernetes client, WorkloadKind kind, string? ns, CancellationToken ct) => kind switch
    {
        WorkloadKind.Deployment => (ns is null
            ? await client.AppsV1.ListDeploymentForAllNamespacesAsync(cancellationToken: ct)
            : await client.AppsV1.ListNamespacedDeploymentAsync(ns, cancellationToken: ct)).Items.Select(From).ToList(),
        WorkloadKind.StatefulSet => (ns is null
            ? await client.AppsV1.ListStatefulSetForAllNamespacesAsync(cancellationToken: ct)
            : await client.AppsV1.ListNamespacedStatefulSetAsync(ns, cancellationToken: ct)).Items.Select(From).ToList(),
        WorkloadKind.DaemonSet => (ns is null
            ? await client.AppsV1.ListDaemonSetForAllNamespacesAsync(cancellationToken: ct)
            : await client.AppsV1.ListNamespacedDaemonSetAsync(ns, cancellationToken: ct)).Items.Select(From).ToList(),
        _ => (ns is null
            ? await client.BatchV1.ListCronJobForAllNamespacesAsync(cancellationToken: ct)
            : await client.BatchV1.ListNamespacedCronJobAsync(ns, cancellationToken: ct)).Items.Select(From).ToList(),
    };

    public static async Task<Workload> ReadAsync(IKubernetes client, WorkloadKind kind, string ns, string name, CancellationToken ct) => kind switch
    {
        WorkloadKind.Deployment => From(await client.AppsV1.ReadNamespacedDeploymentAsync(name, ns, cancellationToken: ct)),
        WorkloadKind.StatefulSet => From(await client.AppsV1.ReadNamespacedStatefulSetAsync(name, ns, cancellationToken: ct)),
        WorkloadKind.DaemonSet => From(await client.AppsV1.ReadNamespacedDaemonSetAsync(name, ns, cancellationToken: ct)),
        _ => From(await client.BatchV1.ReadNamespacedCronJobAsync(name, ns, cancellationToken: ct)),
    };

    public static async Task PatchAsync(IKubernetes client, WorkloadKind kind, string ns, string name, string strategicMergePatch, CancellationToken ct)
    {
        var patch = new V1Patch(strategicMergePatch, V1Patch.PatchType.StrategicMergePatch);
        switch (kind)
        {
            case WorkloadKind.Deployment:
                await client.AppsV1.PatchNamespacedDeploymentAsync(patch, name, ns, cancellationToken: ct);
                break;
            case WorkloadKind.StatefulSet:
                await client.AppsV1.PatchNamespacedStatefulSetAsync(patch, name, ns, cancellationToken: ct);
                break;
            case WorkloadKind.DaemonSet:
                await client.AppsV1.PatchNamespacedDaemonSetAsync(patch, name, ns, cancellationToken: ct);
                break;
            default:
                await client.BatchV1.PatchNamespacedCronJobAsync(patch, name, ns, cancellationToken: ct);
                break;
        }
    }

    /// <summary>Label-selector matching the way the API server does it (matchLabels and matchExpressions ANDed).</summary>
    public bool Selects(V1Pod pod)
    {
        if (Selector is null || pod.Namespace() != Namespace)
        {
            return false;
        }

        var labels = pod.Metadata.Labels ?? new Dictionary<string, string>();
        if (Selector.MatchLabels?.Any(kv => !labels.TryGetValue(kv.Key, out var v) || v != kv.Value) == true)
        {
            return false;
        }

        foreach (var e in Selector.MatchExpressions ?? [])
        {
            var has = labels.TryGetValue(e.Key, out var value);
            var ok = e.OperatorProperty switch
            {
                "In" => has && e.Values.Contains(value!),
                "NotIn" => !has || !e.Values.Contains(value!),
                "Exists" => has,
                "DoesNotExist" => !has,
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }

        // An empty selector selects nothing for workloads (the API server rejects one anyway).
        return Selector.MatchLabels?.Count > 0 || Selector.MatchExpressions?.Count > 0;
    }
}

/// <param name="Follows">False when the controller does not roll pods by itself (CronJob, OnDelete strategy).</param>
/// <param name="DeadlineExceeded">The Progressing condition's message once a Deployment passed progressDeadlineSeconds.</param>
internal sealed record RolloutStatus(
    long Generation,
    long? ObservedGeneration,
    int Desired,
    int Total,
    int Updated,
    int Available,
    bool RevisionsMatch,
    bool Follows,
    string? DeadlineExceeded,
    int? ProgressDeadlineSeconds)
{
    public bool Observed => ObservedGeneration >= Generation;

    /// <summary>The same test <c>kubectl rollout status</c> applies: every replica updated, no old one left, all available.</summary>
    public bool Complete => !Follows
        || (Observed && Updated >= Desired && Total <= Updated && Available >= Updated && RevisionsMatch);

    public string Describe() =>
        $"{Updated}/{Desired} updated, {Available} available, {Total} total, generation {ObservedGeneration?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}/{Generation}";
}
