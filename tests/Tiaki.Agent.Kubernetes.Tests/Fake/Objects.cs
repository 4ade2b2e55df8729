using System.Text.Json.Nodes;

namespace Tiaki.Agent.Kubernetes.Tests.Fake;

/// <summary>Workload manifests as users write them (and as `kubectl create -f` would send them).</summary>
internal static class Objects
{
    public static string Deployment(string ns, string name, string image, int replicas = 2, IDictionary<string, string>? annotations = null,
        string? sidecarImage = null, string? initImage = null, int? progressDeadlineSeconds = null, IReadOnlyList<string>? pullSecrets = null) =>
        Workload("apps/v1", "Deployment", ns, name, annotations, new JsonObject
        {
            ["replicas"] = replicas,
            ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app"] = name } },
            ["template"] = Template(name, image, sidecarImage, initImage, pullSecrets: pullSecrets),
            ["strategy"] = new JsonObject { ["type"] = "RollingUpdate" },
            ["progressDeadlineSeconds"] = progressDeadlineSeconds ?? 600,
        });

    public static string StatefulSet(string ns, string name, string image, int replicas = 2) =>
        Workload("apps/v1", "StatefulSet", ns, name, null, new JsonObject
        {
            ["replicas"] = replicas,
            ["serviceName"] = name,
            ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app"] = name } },
            ["template"] = Template(name, image, null, null),
            ["updateStrategy"] = new JsonObject { ["type"] = "RollingUpdate" },
        });

    public static string DaemonSet(string ns, string name, string image) =>
        Workload("apps/v1", "DaemonSet", ns, name, null, new JsonObject
        {
            ["selector"] = new JsonObject { ["matchExpressions"] = new JsonArray(new JsonObject { ["key"] = "app", ["operator"] = "In", ["values"] = new JsonArray(name) }) },
            ["template"] = Template(name, image, null, null),
        });

    public static string CronJob(string ns, string name, string image) =>
        Workload("batch/v1", "CronJob", ns, name, null, new JsonObject
        {
            ["schedule"] = "*/5 * * * *",
            ["jobTemplate"] = new JsonObject { ["spec"] = new JsonObject { ["template"] = Template(name, image, null, null, restartPolicy: "OnFailure") } },
        });

    /// <summary>A finished pod of a Job the CronJob started, as the Job controller leaves it.</summary>
    public static string CronJobPod(string ns, string cronJob, string image, string imageId) => new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Pod",
        ["metadata"] = new JsonObject
        {
            ["name"] = $"{cronJob}-29000000-abcde",
            ["namespace"] = ns,
            ["labels"] = new JsonObject { ["job-name"] = $"{cronJob}-29000000", ["app"] = cronJob },
            ["ownerReferences"] = new JsonArray(new JsonObject { ["apiVersion"] = "batch/v1", ["kind"] = "Job", ["name"] = $"{cronJob}-29000000", ["uid"] = Guid.NewGuid().ToString(), ["controller"] = true }),
        },
        ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "app", ["image"] = image }), ["restartPolicy"] = "OnFailure" },
        ["status"] = new JsonObject
        {
            ["phase"] = "Succeeded",
            ["containerStatuses"] = new JsonArray(new JsonObject
            {
                ["name"] = "app", ["image"] = image, ["imageID"] = imageId, ["ready"] = false, ["restartCount"] = 0,
                ["state"] = new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 0, ["reason"] = "Completed" } },
            }),
        },
    }.ToJsonString();

    private static string Workload(string apiVersion, string kind, string ns, string name, IDictionary<string, string>? annotations, JsonObject spec)
    {
        var meta = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = new JsonObject { ["app"] = name } };
        if (annotations is not null)
        {
            meta["annotations"] = new JsonObject(annotations.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        }

        return new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind, ["metadata"] = meta, ["spec"] = spec }.ToJsonString();
    }

    /// <summary>An image pull secret as <c>kubectl create secret docker-registry</c> writes it (type <paramref name="type"/>).</summary>
    public static string PullSecret(string ns, string name, string registry, string user, string password, string type = "kubernetes.io/dockerconfigjson")
    {
        var entry = new JsonObject
        {
            ["username"] = user,
            ["password"] = password,
            ["auth"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{user}:{password}")),
        };
        var (key, content) = type == "kubernetes.io/dockercfg"
            ? (".dockercfg", new JsonObject { [registry] = entry })
            : (".dockerconfigjson", new JsonObject { ["auths"] = new JsonObject { [registry] = entry } });
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Secret",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["type"] = type,
            ["data"] = new JsonObject { [key] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(content.ToJsonString())) },
        }.ToJsonString();
    }

    private static JsonObject Template(string name, string image, string? sidecarImage, string? initImage, string restartPolicy = "Always", IReadOnlyList<string>? pullSecrets = null)
    {
        var containers = new JsonArray(new JsonObject
        {
            ["name"] = "app",
            ["image"] = image,
            ["ports"] = new JsonArray(new JsonObject { ["containerPort"] = 8080, ["protocol"] = "TCP" }),
            ["env"] = new JsonArray(new JsonObject { ["name"] = "MODE", ["value"] = "production" }),
        });
        if (sidecarImage is not null)
        {
            containers.Add(new JsonObject { ["name"] = "sidecar", ["image"] = sidecarImage });
        }

        var spec = new JsonObject { ["containers"] = containers, ["restartPolicy"] = restartPolicy };
        if (pullSecrets is not null)
        {
            spec["imagePullSecrets"] = new JsonArray(pullSecrets.Select(s => (JsonNode)new JsonObject { ["name"] = s }).ToArray());
        }

        if (initImage is not null)
        {
            spec["initContainers"] = new JsonArray(new JsonObject { ["name"] = "migrate", ["image"] = initImage });
        }

        return new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["app"] = name } }, ["spec"] = spec };
    }
}
