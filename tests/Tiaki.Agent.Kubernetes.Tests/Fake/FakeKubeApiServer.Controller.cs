using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Tiaki.Agent.Kubernetes.Tests.Fake;

/// <summary>
/// The controllers' side of the fake: Deployments and DaemonSets surge new pods and drop the old
/// ones once the new are ready; StatefulSets replace pods in place from the highest ordinal, one
/// at a time. Status fields are written the way the real controllers write them, so a client that
/// follows a rollout on a real cluster follows it here.
/// </summary>
internal sealed partial class FakeKubeApiServer
{
    private readonly Dictionary<string, string> _podOwner = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _lastTemplateHash = new(StringComparer.Ordinal);

    private async Task ControllerLoop()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        while (await timer.WaitForNextTickAsync(_stop.Token))
        {
            lock (_lock)
            {
                try
                {
                    Reconcile(DateTimeOffset.UtcNow);
                }
                catch (Exception e)
                {
                    // A bug of the fake must fail the test that hit it, not stall the rollout silently.
                    Faults.Add($"controller: {e}");
                    if (Environment.GetEnvironmentVariable("TIAKI_FAKE_K8S_TRACE") == "1")
                    {
                        Console.Error.WriteLine($"fake-k8s controller: {e}");
                    }
                }
            }
        }
    }

    private void Reconcile(DateTimeOffset now)
    {
        foreach (var key in _objects.Keys.Where(k => k.StartsWith("deployments/", StringComparison.Ordinal)
                     || k.StartsWith("statefulsets/", StringComparison.Ordinal) || k.StartsWith("daemonsets/", StringComparison.Ordinal)).ToList())
        {
            ReconcileWorkload(key, now);
        }
    }

    private void ReconcileWorkload(string key, DateTimeOffset now)
    {
        var w = _objects[key];
        var kind = w["kind"]!.GetValue<string>();
        var meta = w["metadata"]!;
        var ns = meta["namespace"]!.GetValue<string>();
        var name = meta["name"]!.GetValue<string>();
        var template = w["spec"]!["template"]!.AsObject();
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(template.ToJsonString())))[..10].ToLowerInvariant();
        var desired = kind == "DaemonSet" ? Nodes : (int)(w["spec"]!["replicas"]?.GetValue<long>() ?? 1);
        if (!_lastTemplateHash.TryGetValue(key, out var seen) || seen != hash)
        {
            _lastTemplateHash[key] = hash;
            _rolloutStarted[key] = now;
        }

        var owned = _podOwner.Where(kv => kv.Value == key).Select(kv => kv.Key).Where(_objects.ContainsKey).Select(k => _objects[k]).ToList();
        var fresh = owned.Where(p => PodHash(p) == hash).ToList();
        var stale = owned.Except(fresh).ToList();

        // One step per tick, so a client sees the intermediate states a real rollout goes through.
        // StatefulSets (and DaemonSets, maxSurge 0) replace a pod in its slot, one at a time, highest slot first.
        if (kind is "StatefulSet" or "DaemonSet")
        {
            string SlotOf(JsonObject p) => kind == "StatefulSet" ? p["metadata"]!["name"]!.GetValue<string>() : p["spec"]!["nodeName"]!.GetValue<string>();
            var pending = fresh.FirstOrDefault(IsCreating);
            if (pending is not null)
            {
                Start(pending);
            }
            else if (fresh.All(IsReady))
            {
                var slots = Enumerable.Range(0, desired).Select(i => kind == "StatefulSet" ? $"{name}-{i}" : $"node-{i}").ToList();
                var missing = slots.FirstOrDefault(slot => !owned.Any(p => SlotOf(p) == slot));
                var victim = stale.OrderByDescending(SlotOf, StringComparer.Ordinal).FirstOrDefault();
                var slot = missing ?? (victim is null ? null : SlotOf(victim));
                if (slot is not null)
                {
                    if (missing is null)
                    {
                        RemovePod(victim!);
                    }

                    NewPod(key, w, hash, kind == "StatefulSet" ? slot : $"{name}-{Suffix()}", ns, kind == "StatefulSet" ? $"node-{slots.IndexOf(slot) % Math.Max(1, Nodes)}" : slot);
                }
            }
        }
        else if (fresh.Count < desired)
        {
            for (var i = fresh.Count; i < desired; i++)
            {
                NewPod(key, w, hash, $"{name}-{hash}-{Suffix()}", ns, $"node-{i % Math.Max(1, Nodes)}");
            }
        }
        else if (fresh.Any(IsCreating))
        {
            foreach (var p in fresh.Where(IsCreating))
            {
                Start(p);
            }
        }
        else if (fresh.All(IsReady) && stale.Count > 0)
        {
            stale.ForEach(RemovePod);
        }

        WriteStatus(key, w, kind, name, hash, desired, now);
    }

    private string Suffix() => (++_podCounter).ToString("x5", CultureInfo.InvariantCulture);

    private static string? PodHash(JsonObject pod)
    {
        var labels = pod["metadata"]!["labels"]!;
        return labels["pod-template-hash"]?.GetValue<string>() ?? labels["controller-revision-hash"]?.GetValue<string>()?.Split('-')[^1];
    }

    private static bool IsCreating(JsonObject pod) => pod["status"]!["reason"]?.GetValue<string>() == "Creating";

    private static bool IsReady(JsonObject pod) =>
        (pod["status"]!["conditions"] as JsonArray)?.Any(c => c!["type"]!.GetValue<string>() == "Ready" && c["status"]!.GetValue<string>() == "True") == true;

    private void NewPod(string ownerKey, JsonObject w, string hash, string podName, string ns, string nodeName)
    {
        var kind = w["kind"]!.GetValue<string>();
        var name = w["metadata"]!["name"]!.GetValue<string>();
        var template = w["spec"]!["template"]!.AsObject();
        var labels = template["metadata"]?["labels"]?.DeepClone().AsObject() ?? [];
        if (kind == "Deployment")
        {
            labels["pod-template-hash"] = hash;
        }
        else
        {
            labels["controller-revision-hash"] = $"{name}-{hash}";
        }

        if (kind == "StatefulSet")
        {
            labels["statefulset.kubernetes.io/pod-name"] = podName;
        }

        var spec = template["spec"]!.DeepClone().AsObject();
        spec["nodeName"] = nodeName;
        var waiting = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "ContainerCreating" } };
        var pod = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = podName,
                ["labels"] = labels,
                ["ownerReferences"] = new JsonArray(new JsonObject
                {
                    ["apiVersion"] = "apps/v1",
                    ["kind"] = kind == "Deployment" ? "ReplicaSet" : kind,
                    ["name"] = kind == "Deployment" ? $"{name}-{hash}" : name,
                    ["uid"] = w["metadata"]!["uid"]!.GetValue<string>(),
                    ["controller"] = true,
                    ["blockOwnerDeletion"] = true,
                }),
            },
            ["spec"] = spec,
            ["status"] = new JsonObject
            {
                ["phase"] = "Pending",
                // Private marker of the fake's pod lifecycle; real pods carry a reason only when evicted etc.
                ["reason"] = "Creating",
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "False", ["reason"] = "ContainersNotReady" }),
                ["containerStatuses"] = new JsonArray(((JsonArray)spec["containers"]!).Select(c => (JsonNode)new JsonObject
                {
                    ["name"] = c!["name"]!.GetValue<string>(),
                    ["image"] = c["image"]!.GetValue<string>(),
                    ["imageID"] = "",
                    ["ready"] = false,
                    ["restartCount"] = 0,
                    ["started"] = false,
                    ["state"] = waiting.DeepClone(),
                }).ToArray()),
            },
        };
        var stored = Insert(Types.Single(t => t.Kind == "Pod"), ns, pod);
        _podOwner[Key("pods", ns, podName)] = ownerKey;
        _ = stored;
    }

    /// <summary>The kubelet's part: pull each image and start the containers, or fail the way the image is told to.</summary>
    private void Start(JsonObject pod)
    {
        var meta = pod["metadata"]!;
        var podName = meta["name"]!.GetValue<string>();
        var spec = pod["spec"]!;
        var now = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var failures = new List<string>();

        JsonObject StatusOf(JsonNode c, bool init, bool blocked)
        {
            var image = c["image"]!.GetValue<string>();
            var cname = c["name"]!.GetValue<string>();
            var status = new JsonObject { ["name"] = cname, ["image"] = image, ["imageID"] = "", ["ready"] = false, ["restartCount"] = 0, ["started"] = false };
            var reason = _failingImages.GetValueOrDefault(image);
            if (blocked)
            {
                status["state"] = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "PodInitializing" } };
                return status;
            }

            switch (reason)
            {
                case "ImagePullBackOff" or "ErrImagePull" or "InvalidImageName":
                    failures.Add(reason);
                    status["state"] = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = reason, ["message"] = $"Back-off pulling image \"{image}\"" } };
                    return status;
                case "CrashLoopBackOff":
                    failures.Add(reason);
                    status["imageID"] = ImageId(image);
                    status["restartCount"] = 3;
                    status["state"] = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = reason, ["message"] = $"back-off 40s restarting failed container={cname} pod={podName}" } };
                    status["lastState"] = new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 1, ["reason"] = "Error", ["startedAt"] = now, ["finishedAt"] = now } };
                    return status;
                case "ContainerCreating":
                    failures.Add(reason);
                    status["state"] = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = reason } };
                    return status;
            }

            status["imageID"] = ImageId(image);
            status["ready"] = !init;
            status["started"] = !init;
            status["state"] = init
                ? new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 0, ["reason"] = "Completed", ["startedAt"] = now, ["finishedAt"] = now } }
                : new JsonObject { ["running"] = new JsonObject { ["startedAt"] = now } };
            return status;
        }

        var initStatuses = ((spec["initContainers"] as JsonArray) ?? []).Select(c => StatusOf(c!, init: true, blocked: false)).ToList();
        var initFailed = failures.Count > 0;
        var statuses = ((JsonArray)spec["containers"]!).Select(c => StatusOf(c!, init: false, blocked: initFailed)).ToList();
        var ready = failures.Count == 0;
        var status = new JsonObject
        {
            ["phase"] = ready || failures.Contains("CrashLoopBackOff") ? "Running" : "Pending",
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = ready ? "True" : "False", ["reason"] = ready ? null : "ContainersNotReady" }),
            ["hostIP"] = "10.0.0.1",
            ["podIP"] = $"10.1.0.{(_podCounter % 250) + 2}",
            ["startTime"] = now,
            ["containerStatuses"] = new JsonArray(statuses.Select(s => (JsonNode)s).ToArray()),
        };
        if (initStatuses.Count > 0)
        {
            status["initContainerStatuses"] = new JsonArray(initStatuses.Select(s => (JsonNode)s).ToArray());
        }

        var next = (JsonObject)pod.DeepClone();
        next["status"] = status;
        var ns = meta["namespace"]!.GetValue<string>();
        next["metadata"]!["resourceVersion"] = Rv(++_resourceVersion);
        _objects[Key("pods", ns, podName)] = next;
        Record("MODIFIED", "pods", ns, next, _resourceVersion);
    }

    /// <summary>imageID the way containerd reports it: the resolved repository and the digest pulled.</summary>
    private string ImageId(string image)
    {
        var at = image.IndexOf('@', StringComparison.Ordinal);
        var repo = at >= 0 ? image[..at] : image;
        var slash = repo.LastIndexOf('/');
        var colon = repo.LastIndexOf(':');
        if (colon > slash)
        {
            repo = repo[..colon];
        }

        if (!repo.Contains('/', StringComparison.Ordinal))
        {
            repo = "docker.io/library/" + repo;
        }
        else if (!repo[..repo.IndexOf('/', StringComparison.Ordinal)].Contains('.', StringComparison.Ordinal) && !repo.StartsWith("localhost", StringComparison.Ordinal)
                 && !repo[..repo.IndexOf('/', StringComparison.Ordinal)].Contains(':', StringComparison.Ordinal))
        {
            repo = "docker.io/" + repo;
        }

        var digest = _digests.TryGetValue(image, out var d) ? d : "sha256:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(image))).ToLowerInvariant();
        return $"{repo}@{digest}";
    }

    private void RemovePod(JsonObject pod)
    {
        var meta = pod["metadata"]!;
        var ns = meta["namespace"]!.GetValue<string>();
        var key = Key("pods", ns, meta["name"]!.GetValue<string>());
        _objects.Remove(key);
        _podOwner.Remove(key);
        Record("DELETED", "pods", ns, pod, ++_resourceVersion);
    }

    private void WriteStatus(string key, JsonObject w, string kind, string name, string hash, int desired, DateTimeOffset now)
    {
        var owned = _podOwner.Where(kv => kv.Value == key).Select(kv => _objects[kv.Key]).ToList();
        var fresh = owned.Count(p => PodHash(p) == hash);
        var ready = owned.Count(IsReady);
        var generation = w["metadata"]!["generation"]!.GetValue<long>();
        JsonObject status;
        switch (kind)
        {
            case "Deployment":
                var complete = fresh >= desired && owned.Count == fresh && ready >= desired;
                var deadline = w["spec"]!["progressDeadlineSeconds"]?.GetValue<long>() ?? 600;
                var progressing = complete
                    ? Condition("Progressing", "True", "NewReplicaSetAvailable", $"ReplicaSet \"{name}-{hash}\" has successfully progressed.")
                    : now - _rolloutStarted[key] > TimeSpan.FromSeconds(deadline)
                        ? Condition("Progressing", "False", "ProgressDeadlineExceeded", $"ReplicaSet \"{name}-{hash}\" has timed out progressing.")
                        : Condition("Progressing", "True", "ReplicaSetUpdated", $"ReplicaSet \"{name}-{hash}\" is progressing.");
                status = new JsonObject
                {
                    ["observedGeneration"] = generation,
                    ["replicas"] = owned.Count,
                    ["updatedReplicas"] = fresh,
                    ["readyReplicas"] = ready,
                    ["availableReplicas"] = ready,
                    ["conditions"] = new JsonArray(
                        Condition("Available", ready >= desired ? "True" : "False", ready >= desired ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                            ready >= desired ? "Deployment has minimum availability." : "Deployment does not have minimum availability."),
                        progressing),
                };
                if (owned.Count - ready > 0)
                {
                    status["unavailableReplicas"] = owned.Count - ready;
                }

                break;
            case "StatefulSet":
                var previous = w["status"]?["currentRevision"]?.GetValue<string>() ?? $"{name}-{hash}";
                var done = fresh == desired && ready == desired;
                status = new JsonObject
                {
                    ["observedGeneration"] = generation,
                    ["replicas"] = owned.Count,
                    ["readyReplicas"] = ready,
                    ["availableReplicas"] = ready,
                    ["currentReplicas"] = done ? fresh : owned.Count - fresh,
                    ["updatedReplicas"] = fresh,
                    ["currentRevision"] = done ? $"{name}-{hash}" : previous,
                    ["updateRevision"] = $"{name}-{hash}",
                    ["collisionCount"] = 0,
                };
                break;
            default:
                status = new JsonObject
                {
                    ["observedGeneration"] = generation,
                    ["currentNumberScheduled"] = Math.Min(owned.Count, desired),
                    ["desiredNumberScheduled"] = desired,
                    ["numberMisscheduled"] = 0,
                    ["numberReady"] = ready,
                    ["numberAvailable"] = ready,
                    ["updatedNumberScheduled"] = fresh,
                };
                if (desired - ready > 0)
                {
                    status["numberUnavailable"] = desired - ready;
                }

                break;
        }

        // lastUpdateTime/lastTransitionTime would make every tick a change; compare without them.
        if (w["status"]?.ToJsonString() == status.ToJsonString())
        {
            return;
        }

        var next = (JsonObject)w.DeepClone();
        next["status"] = status;
        next["metadata"]!["resourceVersion"] = Rv(++_resourceVersion);
        _objects[key] = next;
        var parts = key.Split('/');
        Record("MODIFIED", parts[0], parts[1], next, _resourceVersion);
    }

    private static JsonObject Condition(string type, string status, string reason, string message) =>
        new() { ["type"] = type, ["status"] = status, ["reason"] = reason, ["message"] = message };
}
