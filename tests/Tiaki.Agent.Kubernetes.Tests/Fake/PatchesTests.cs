using System.Text.Json.Nodes;

namespace Tiaki.Agent.Kubernetes.Tests.Fake;

/// <summary>The fake applies patches the way the API server does; these pin the semantics the runtime and kubectl rely on.</summary>
public sealed class PatchesTests
{
    private static readonly JsonNode Pod = JsonNode.Parse("""
        {"spec":{"containers":[
          {"name":"app","image":"a:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
          {"name":"sidecar","image":"s:1"}],
         "tolerations":[{"key":"x"}]}}
        """)!;

    [Fact]
    public void StrategicMerge_ContainerByName_ChangesOnlyThatContainersField()
    {
        var result = Patches.StrategicMerge(Pod, JsonNode.Parse("""{"spec":{"containers":[{"name":"sidecar","image":"s:2"}]}}""")!);

        result["spec"]!["containers"]!.ToJsonString().ShouldBe("""[{"name":"app","image":"a:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},{"name":"sidecar","image":"s:2"}]""");
    }

    [Fact]
    public void StrategicMerge_DirectivesAndNulls_DeleteAsTheApiServerDoes()
    {
        var result = Patches.StrategicMerge(Pod, JsonNode.Parse("""
            {"spec":{"containers":[{"name":"app","env":[{"name":"A","$patch":"delete"},{"name":"C","value":"3"}]},{"name":"sidecar","$patch":"delete"}],
                     "tolerations":[{"key":"y"}],"$setElementOrder/containers":[{"name":"app"}]}}
            """)!);

        result["spec"]!["containers"]!.AsArray().Count.ShouldBe(1);
        result["spec"]!["containers"]![0]!["env"]!.ToJsonString().ShouldBe("""[{"name":"B","value":"2"},{"name":"C","value":"3"}]""");
        // Lists without a merge key are replaced whole.
        result["spec"]!["tolerations"]!.ToJsonString().ShouldBe("""[{"key":"y"}]""");
        Patches.StrategicMerge(Pod, JsonNode.Parse("""{"spec":{"tolerations":null}}""")!)["spec"]!.AsObject().ContainsKey("tolerations").ShouldBeFalse();
    }

    [Fact]
    public void MergePatch_Lists_ReplacedWhole()
    {
        var result = Patches.MergePatch(Pod, JsonNode.Parse("""{"spec":{"containers":[{"name":"only","image":"o:1"}]}}"""))!;

        result["spec"]!["containers"]!.ToJsonString().ShouldBe("""[{"name":"only","image":"o:1"}]""");
    }

    [Fact]
    public void JsonPatch_FailedTestOrMissingPath_Throws()
    {
        Should.Throw<InvalidOperationException>(() => Patches.JsonPatch(Pod, JsonNode.Parse("""[{"op":"test","path":"/spec/containers/0/image","value":"a:9"}]""")!.AsArray()));
        Should.Throw<InvalidOperationException>(() => Patches.JsonPatch(Pod, JsonNode.Parse("""[{"op":"replace","path":"/spec/nothing","value":1}]""")!.AsArray()));

        var ok = Patches.JsonPatch(Pod, JsonNode.Parse("""[{"op":"add","path":"/spec/containers/-","value":{"name":"z","image":"z:1"}},{"op":"remove","path":"/spec/tolerations"}]""")!.AsArray());
        ok["spec"]!["containers"]!.AsArray().Count.ShouldBe(3);
        ok["spec"]!.AsObject().ContainsKey("tolerations").ShouldBeFalse();
    }
}
