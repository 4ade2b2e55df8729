using System.Globalization;
using System.Text;
using System.Text.Json;
using Tiaki.Agent.Core.Updates;
using Tiaki.Registry.References;

namespace Tiaki.Agent.Core.Check;

/// <summary>
/// <c>check IMAGE[:TAG] [IMAGE...] [--json] [--current-digest sha256:...] [--max-bump patch|minor|major]
/// [--include REGEX] [--exclude REGEX]</c>: asks the registries, without a control plane, whether
/// newer images exist. Exit codes: 0 all checked, 1 some image could not be checked, 2 bad input.
/// </summary>
public static class CheckCommand
{
    /// <summary>Exit code when every image was checked.</summary>
    public const int ExitOk = 0;
    /// <summary>Exit code when at least one image could not be checked (its error is in the output).</summary>
    public const int ExitSomeFailed = 1;
    /// <summary>Exit code for bad arguments or settings.</summary>
    public const int ExitUsage = 2;

    private const string Usage = """
        usage: check IMAGE[:TAG] [IMAGE...] [options]
          --json                      machine-readable output
          --current-digest sha256:..  digest of the running image (once, or once per image in order)
          --max-bump patch|minor|major  largest version move allowed (label tiaki.update)
          --include REGEX             only tags matching REGEX (label tiaki.tag.include)
          --exclude REGEX             never tags matching REGEX (label tiaki.tag.exclude)
        environment: REGISTRY_AUTH_FILE, REGISTRY_USERNAME/REGISTRY_PASSWORD (+ REGISTRY_HOST),
                     REGISTRY_INSECURE (comma-separated hosts), REGISTRY_CONCURRENCY
        """;

    /// <summary>Runs the command with the process environment.</summary>
    public static Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken ct) =>
        RunAsync(args, stdout, stderr, Environment.GetEnvironmentVariable, ct);

    internal static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, CancellationToken ct)
    {
        var parsed = Parse(args);
        if (parsed.Help)
        {
            await stdout.WriteLineAsync(Usage);
            return ExitOk;
        }
        var envOptions = UpdateCheckerOptions.FromEnvironment(environment, out var envErrors);
        var errors = parsed.Errors.Concat(envErrors).ToList();
        if (errors.Count > 0)
        {
            foreach (var error in errors) await stderr.WriteLineAsync("check: " + error);
            await stderr.WriteLineAsync(Usage);
            return ExitUsage;
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (parsed.MaxBump is { } bump) labels["tiaki.update"] = bump;
        if (parsed.Include is { } include) labels["tiaki.tag.include"] = include;
        if (parsed.Exclude is { } exclude) labels["tiaki.tag.exclude"] = exclude;
        var queries = parsed.Images.Select((image, i) => new ImageQuery(image,
            parsed.CurrentDigests.Count == 0 ? [] : [parsed.CurrentDigests.Count == 1 ? parsed.CurrentDigests[0] : parsed.CurrentDigests[i]],
            labels)).ToList();

        using var checker = new UpdateChecker(envOptions);
        var results = await checker.CheckImagesAsync(queries, ct);
        if (parsed.Json) await WriteJsonAsync(stdout, results);
        else await WriteTableAsync(stdout, results);
        return results.Any(r => r.Error is not null) ? ExitSomeFailed : ExitOk;
    }

    private sealed class Arguments
    {
        public List<string> Images { get; } = [];
        public List<string> CurrentDigests { get; } = [];
        public List<string> Errors { get; } = [];
        public bool Json { get; set; }
        public bool Help { get; set; }
        public string? MaxBump { get; set; }
        public string? Include { get; set; }
        public string? Exclude { get; set; }
    }

    private static Arguments Parse(IReadOnlyList<string> args)
    {
        var a = new Arguments();
        var start = args.Count > 0 && args[0] == "check" ? 1 : 0;
        for (var i = start; i < args.Count; i++)
        {
            var arg = args[i];
            string? inline = null;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.IndexOf('=', StringComparison.Ordinal) is > 2 and var eq)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }
            string? Value()
            {
                if (inline is not null) return inline;
                if (i + 1 < args.Count) return args[++i];
                a.Errors.Add($"{arg} needs a value");
                return null;
            }
            switch (arg)
            {
                case "--json": a.Json = true; break;
                case "-h" or "--help": a.Help = true; break;
                case "--current-digest":
                    if (Value() is { } digest)
                    {
                        if (ImageReference.IsValidDigest(digest)) a.CurrentDigests.Add(digest);
                        else a.Errors.Add($"--current-digest \"{digest}\" is not a digest like sha256:<64 hex digits>");
                    }
                    break;
                case "--max-bump":
                    if (Value() is { } bump)
                    {
                        if (bump.Trim().ToLowerInvariant() is "patch" or "minor" or "major") a.MaxBump = bump.Trim().ToLowerInvariant();
                        else a.Errors.Add($"--max-bump \"{bump}\" must be patch, minor or major");
                    }
                    break;
                case "--include" or "--exclude":
                    if (Value() is { } pattern)
                    {
                        if (UpdatePolicy.TryCompile(pattern, out var error) is null) a.Errors.Add($"{arg} \"{pattern}\" is not a valid regular expression: {error}");
                        else if (arg == "--include") a.Include = pattern;
                        else a.Exclude = pattern;
                    }
                    break;
                default:
                    if (arg.StartsWith('-'))
                        a.Errors.Add($"unknown option {arg}");
                    else if (!ImageReference.TryParse(arg, out _, out var refError))
                        a.Errors.Add(refError);
                    else
                        a.Images.Add(arg);
                    break;
            }
        }
        if (!a.Help && a.Images.Count == 0 && a.Errors.Count == 0)
            a.Errors.Add("no image given");
        if (a.CurrentDigests.Count > 1 && a.CurrentDigests.Count != a.Images.Count)
            a.Errors.Add($"--current-digest given {a.CurrentDigests.Count} times for {a.Images.Count} images: give it once, or once per image");
        return a;
    }

    private static async Task WriteTableAsync(TextWriter stdout, IReadOnlyList<ImageCheckResult> results)
    {
        string[] header = ["IMAGE", "CURRENT", "LATEST", "UPDATE", "DIGEST", "DETAILS"];
        var rows = results.Select(r => new[]
        {
            r.Image,
            r.CurrentTag,
            r.LatestTag ?? "-",
            r.Error is not null ? "error" : r.Skipped is not null ? "skipped" : r.IsUpdate ? r.Bump ?? "yes" : "no",
            r.LatestDigest is { Length: > 19 } d ? d[..19] : r.LatestDigest ?? "-",
            r.Error ?? r.Skipped ?? r.ChangelogUrl ?? r.Note ?? "",
        }).ToList();
        var widths = header.Select((h, c) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[c].Length))).ToArray();
        var sb = new StringBuilder();
        foreach (var row in rows.Prepend(header))
        {
            for (var c = 0; c < row.Length; c++)
            {
                sb.Append(c == row.Length - 1 ? row[c] : row[c].PadRight(widths[c] + 2));
            }
            sb.Append('\n');
        }
        var updates = results.Count(r => r.IsUpdate);
        var failed = results.Count(r => r.Error is not null);
        sb.Append(CultureInfo.InvariantCulture, $"{results.Count} checked, {updates} update{(updates == 1 ? "" : "s")}, {failed} error{(failed == 1 ? "" : "s")}\n");
        await stdout.WriteAsync(sb.ToString());
    }

    private static async Task WriteJsonAsync(TextWriter stdout, IReadOnlyList<ImageCheckResult> results)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartArray("images");
            foreach (var r in results)
            {
                json.WriteStartObject();
                json.WriteString("image", r.Image);
                json.WriteString("currentTag", r.CurrentTag);
                WriteOptional(json, "latestTag", r.LatestTag);
                WriteOptional(json, "latestDigest", r.LatestDigest);
                json.WriteBoolean("update", r.IsUpdate);
                WriteOptional(json, "bump", r.Bump);
                WriteOptional(json, "changelogUrl", r.ChangelogUrl);
                if (r.ImageCreatedAt is { } created) json.WriteString("imageCreatedAt", created);
                WriteOptional(json, "skipped", r.Skipped);
                WriteOptional(json, "note", r.Note);
                WriteOptional(json, "error", r.Error);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteNumber("checked", results.Count);
            json.WriteNumber("updates", results.Count(r => r.IsUpdate));
            json.WriteNumber("errors", results.Count(r => r.Error is not null));
            json.WriteEndObject();
        }
        await stdout.WriteLineAsync(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null) json.WriteNull(name);
        else json.WriteString(name, value);
    }
}
