using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Tiaki.Agent.Core.Compose;

/// <summary>One file the edit rewrites, with its bytes before and after (so a rollback restores it exactly).</summary>
public sealed record FileChange(string Path, byte[] Before, byte[] After);

/// <summary>The outcome of planning an image-tag change: the file changes, or why it was refused.</summary>
public sealed record ComposeEdit(IReadOnlyList<FileChange> Changes, string OldImage, string NewImage, string? Error)
{
    public bool Succeeded => Error is null;

    public static ComposeEdit Refused(string error) => new([], "", "", error);

    public void Apply()
    {
        foreach (var c in Changes) File.WriteAllBytes(c.Path, c.After);
    }

    public void Revert()
    {
        foreach (var c in Changes) File.WriteAllBytes(c.Path, c.Before);
    }
}

/// <summary>
/// Changes the image tag of one compose service and nothing else. YamlDotNet's serializer would drop
/// comments and reformat the file, so the file is only parsed to find where the image scalar sits
/// (its marks) and the new tag is spliced into the original text.
/// </summary>
public static partial class ComposeFileEditor
{
    public static ComposeEdit PlanTagChange(string composeFile, string service, string newTag, string? newDigest = null)
    {
        if (!ImageReference.IsValidTag(newTag)) return ComposeEdit.Refused($"'{newTag}' is not a valid image tag");
        if (newDigest is not null && !DigestPattern().IsMatch(newDigest)) return ComposeEdit.Refused($"'{newDigest}' is not a valid digest");
        if (!File.Exists(composeFile)) return ComposeEdit.Refused($"compose file {composeFile} does not exist");

        var bytes = File.ReadAllBytes(composeFile);
        var (text, encoding, preamble) = Decode(bytes);
        Scalar imageNode;
        try
        {
            var found = FindImage(text, service);
            if (found.Error is not null) return ComposeEdit.Refused($"{composeFile}: {found.Error}");
            imageNode = found.Node!;
        }
        catch (YamlException ex)
        {
            return ComposeEdit.Refused($"{composeFile} is not valid YAML: {ex.Message}");
        }

        var value = imageNode.Value ?? "";
        var span = RawValueSpan(text, imageNode);
        if (span is null) return ComposeEdit.Refused($"{composeFile}: cannot locate the image of service '{service}' in the text (escaped scalar?)");

        if (value.Contains('$', StringComparison.Ordinal))
            return PlanVariableChange(composeFile, text, encoding, preamble, bytes, span.Value, value, service, newTag, newDigest);

        var old = ImageReference.Parse(value);
        var updated = (old with { Tag = newTag, Digest = newDigest }).ToString();
        var newText = Splice(text, span.Value, updated);
        return new ComposeEdit([new FileChange(composeFile, bytes, Encode(newText, encoding, preamble))], value, updated, null);
    }

    private static ComposeEdit PlanVariableChange(string composeFile, string text, Encoding encoding, byte[] preamble, byte[] bytes,
        (int Start, int Length) span, string value, string service, string newTag, string? newDigest)
    {
        var tagVar = TagVariable().Match(value);
        var whole = WholeVariable().Match(value);
        var envFile = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(composeFile))!, ".env");
        if (tagVar.Success)
        {
            var name = tagVar.Groups["var"].Value;
            var envEdit = PlanEnvChange(envFile, name, _ => newTag);
            if (envEdit is not null)
                return new ComposeEdit([envEdit.Value.Change], $"{tagVar.Groups["repo"].Value}:{envEdit.Value.OldValue}", $"{tagVar.Groups["repo"].Value}:{newTag}", null);
            if (tagVar.Groups["def"].Success)
            {
                // Not set in .env: the default in the compose file is what runs, so that is what changes.
                var defGroup = tagVar.Groups["def"];
                var newText = Splice(text, (span.Start + defGroup.Index, defGroup.Length), newTag);
                return new ComposeEdit([new FileChange(composeFile, bytes, Encode(newText, encoding, preamble))],
                    $"{tagVar.Groups["repo"].Value}:{defGroup.Value}", $"{tagVar.Groups["repo"].Value}:{newTag}", null);
            }
            return ComposeEdit.Refused($"the tag of service '{service}' comes from ${{{name}}}, which is neither in {envFile} nor has a default; set it there or edit the file by hand");
        }
        if (whole.Success)
        {
            var name = whole.Groups["var"].Value;
            string? oldImage = null, newImage = null;
            var envEdit = PlanEnvChange(envFile, name, v =>
            {
                oldImage = v;
                newImage = (ImageReference.Parse(v) with { Tag = newTag, Digest = newDigest }).ToString();
                return newImage;
            });
            if (envEdit is not null) return new ComposeEdit([envEdit.Value.Change], oldImage!, newImage!, null);
            return ComposeEdit.Refused($"the image of service '{service}' comes from ${{{name}}}, which is not set in {envFile}; refusing to guess where it is defined");
        }
        // A variable only in the repository part (e.g. ${REGISTRY}/app:1.0): the literal tag can be spliced.
        var colon = value.LastIndexOf(':');
        if (colon > value.LastIndexOf('}') && colon > value.LastIndexOf('/') && !value[colon..].Contains('$', StringComparison.Ordinal))
        {
            var updated = value[..colon] + ":" + newTag;
            return new ComposeEdit([new FileChange(composeFile, bytes, Encode(Splice(text, span, updated), encoding, preamble))], value, updated, null);
        }
        return ComposeEdit.Refused($"the image of service '{service}' ('{value}') uses variables in a form Tiaki cannot update safely; edit it by hand");
    }

    private static (FileChange Change, string OldValue)? PlanEnvChange(string envFile, string name, Func<string, string> update)
    {
        if (!File.Exists(envFile)) return null;
        var bytes = File.ReadAllBytes(envFile);
        var (text, encoding, preamble) = Decode(bytes);
        foreach (Match m in EnvLine().Matches(text))
        {
            if (m.Groups["key"].Value != name) continue;
            var raw = m.Groups["value"];
            var quoted = raw.Value.Length >= 2 && (raw.Value[0] == '"' || raw.Value[0] == '\'') && raw.Value[^1] == raw.Value[0];
            var start = quoted ? raw.Index + 1 : raw.Index;
            var length = quoted ? raw.Length - 2 : raw.Length;
            var old = text.Substring(start, length);
            var newText = Splice(text, (start, length), update(old));
            return (new FileChange(envFile, bytes, Encode(newText, encoding, preamble)), old);
        }
        return null;
    }

    /// <summary>Whether the text sets an image for the service (directly, through an alias or a merge key).</summary>
    internal static bool DefinesImage(string text, string service)
    {
        try
        {
            var (node, error) = FindImage(text, service);
            return node is not null || error?.Contains("alias", StringComparison.Ordinal) == true
                || error?.Contains("anchored", StringComparison.Ordinal) == true || error?.Contains("merge key", StringComparison.Ordinal) == true;
        }
        catch (YamlException)
        {
            return false;
        }
    }

    private static (Scalar? Node, string? Error) FindImage(string text, string service)
    {
        var parser = new Parser(new StringReader(text));
        parser.Consume<StreamStart>();
        if (parser.Accept<StreamEnd>(out _)) return (null, "the file is empty");
        parser.Consume<DocumentStart>();
        var root = Node.Read(parser);
        if (root is not Node.Map map) return (null, "no top-level mapping");
        if (map.Get("services") is not Node.Map services) return (null, "no 'services' section");
        if (services.Get(service) is not Node.Map svc) return (null, $"service '{service}' is not defined");
        var image = svc.Get("image");
        if (image is null)
        {
            return svc.Get("<<") is not null
                ? (null, $"service '{service}' inherits its image through a merge key (<<); changing the anchor would change other services too, edit it by hand")
                : (null, $"service '{service}' has no image (built from source?)");
        }
        if (image is Node.Alias) return (null, $"the image of service '{service}' is a YAML alias shared with other nodes; edit the anchor by hand");
        if (image is not Node.Leaf leaf) return (null, $"the image of service '{service}' is not a string");
        if (!leaf.Event.Anchor.IsEmpty && text.Contains("*" + leaf.Event.Anchor.Value, StringComparison.Ordinal))
            return (null, $"the image of service '{service}' is anchored as &{leaf.Event.Anchor.Value} and reused elsewhere; edit it by hand");
        return (leaf.Event, null);
    }

    /// <summary>A minimal tree over the parser's events: enough to find one scalar and keep its marks.</summary>
    private abstract record Node
    {
        public sealed record Leaf(Scalar Event) : Node;
        public sealed record Alias(AnchorAlias Event) : Node;
        public sealed record Seq(List<Node> Items) : Node;
        public sealed record Map(List<(Node Key, Node Value)> Entries) : Node
        {
            public Node? Get(string key) => Entries.LastOrDefault(e => e.Key is Leaf l && l.Event.Value == key).Value;
        }

        public static Node Read(IParser parser)
        {
            if (parser.TryConsume<Scalar>(out var scalar)) return new Leaf(scalar);
            if (parser.TryConsume<AnchorAlias>(out var alias)) return new Alias(alias);
            if (parser.TryConsume<SequenceStart>(out _))
            {
                var items = new List<Node>();
                while (!parser.TryConsume<SequenceEnd>(out _)) items.Add(Read(parser));
                return new Seq(items);
            }
            parser.Consume<MappingStart>();
            var entries = new List<(Node, Node)>();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var key = Read(parser);
                entries.Add((key, Read(parser)));
            }
            return new Map(entries);
        }
    }

    /// <summary>Where the scalar's characters sit in the text, inside any quotes and after any anchor or tag.</summary>
    private static (int Start, int Length)? RawValueSpan(string text, Scalar node)
    {
        var start = (int)node.Start.Index;
        var end = (int)Math.Min(node.End.Index, text.Length);
        var value = node.Value ?? "";
        if (value.Length == 0) return null;
        var region = text[start..end];
        // The value without escapes equals its raw text (image references need no escaping);
        // the last occurrence skips an anchor name or tag that happens to contain it.
        var at = region.LastIndexOf(value, StringComparison.Ordinal);
        return at < 0 ? null : (start + at, value.Length);
    }

    private static string Splice(string text, (int Start, int Length) span, string replacement) =>
        string.Concat(text.AsSpan(0, span.Start), replacement, text.AsSpan(span.Start + span.Length));

    private static (string Text, Encoding Encoding, byte[] Preamble) Decode(byte[] bytes)
    {
        var utf8Bom = Encoding.UTF8.GetPreamble();
        if (bytes.AsSpan().StartsWith(utf8Bom))
            return (new UTF8Encoding(false).GetString(bytes, utf8Bom.Length, bytes.Length - utf8Bom.Length), new UTF8Encoding(false), utf8Bom);
        return (new UTF8Encoding(false).GetString(bytes), new UTF8Encoding(false), []);
    }

    private static byte[] Encode(string text, Encoding encoding, byte[] preamble) => [.. preamble, .. encoding.GetBytes(text)];

    [GeneratedRegex(@"^(?<repo>[^$]+):\$\{(?<var>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?<def>[^}]*))?\}$|^(?<repo>[^$]+):\$(?<var>[A-Za-z_][A-Za-z0-9_]*)$")]
    private static partial Regex TagVariable();

    [GeneratedRegex(@"^\$\{(?<var>[A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}$|^\$(?<var>[A-Za-z_][A-Za-z0-9_]*)$")]
    private static partial Regex WholeVariable();

    [GeneratedRegex(@"^[ \t]*(?:export[ \t]+)?(?<key>[A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(?<value>[^\r\n#]*?)[ \t]*(?:#[^\r\n]*)?\r?$", RegexOptions.Multiline)]
    private static partial Regex EnvLine();

    [GeneratedRegex(@"^sha256:[a-f0-9]{64}$")]
    private static partial Regex DigestPattern();
}

public static partial class ComposeFiles
{
    /// <summary>
    /// The compose files of a container, from its labels: compose v1 writes config_files relative to
    /// the project's working_dir, v2 absolute and comma-separated when several files are merged.
    /// </summary>
    public static IReadOnlyList<string> FromLabels(IReadOnlyDictionary<string, string> labels)
    {
        if (!labels.TryGetValue("com.docker.compose.project.config_files", out var files) || files.Length == 0) return [];
        labels.TryGetValue("com.docker.compose.project.working_dir", out var workingDir);
        return files.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(f => Path.IsPathRooted(f) || string.IsNullOrEmpty(workingDir) ? f : Path.GetFullPath(Path.Combine(workingDir, f)))
            .ToList();
    }

    /// <summary>The file whose <c>image:</c> for the service wins (the last one that sets it), or the first file.</summary>
    public static string? FileDefiningImage(IReadOnlyList<string> files, string service)
    {
        for (var i = files.Count - 1; i >= 0; i--)
        {
            try
            {
                if (File.Exists(files[i]) && ComposeFileEditor.DefinesImage(File.ReadAllText(files[i]), service)) return files[i];
            }
            catch (IOException)
            {
                // unreadable file: try the next one
            }
        }
        return files.Count > 0 ? files[0] : null;
    }
}
