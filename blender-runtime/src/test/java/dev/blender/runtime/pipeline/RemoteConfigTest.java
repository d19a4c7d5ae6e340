package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.TestModels;
import dev.blender.runtime.member.Member;
import dev.blender.runtime.remote.RemoteEndpoint;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Remote members in configurations: how they are written, checked and named, and what they cannot do. */
class RemoteConfigTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path HERE = Path.of(".");

    static BlenderConfig.Builder parse(String json) throws Exception {
        return BlenderConfigJson.fromJson(json, HERE);
    }

    @Test
    void aRemoteEntryBecomesANamedWeightlessGenerator() throws Exception {
        BlenderConfig c = parse("""
                {"models": [{"url": "http://gpu-box:8080/v1", "model": "qwen", "role": "generator", "name": "q",
                             "api": "completions", "timeoutSeconds": 2.5, "retries": 4},
                            {"url": "http://127.0.0.1:11434/v1/", "model": "llama3.2:1b"}],
                 "memoryBudgetMiB": 1}""").memoryBudgetBytes(1).buildConfig();
        assertEquals(List.of("q", "llama3.2:1b"), c.generatorNames());
        Path q = c.generators().get(0);
        RemoteEndpoint e = c.remote(q).orElseThrow().endpoint();
        assertEquals(URI.create("http://gpu-box:8080/v1"), e.baseUrl());
        assertEquals("qwen", e.model());
        assertEquals(RemoteEndpoint.Api.COMPLETIONS, e.api());
        assertEquals(Duration.ofMillis(2500), e.timeout());
        assertEquals(4, e.retries());
        RemoteEndpoint o = c.remote(c.generators().get(1)).orElseThrow().endpoint();
        assertEquals(URI.create("http://127.0.0.1:11434/v1"), o.baseUrl());
        assertEquals(RemoteEndpoint.Api.CHAT, o.api());
        assertEquals(RemoteEndpoint.DEFAULT_RETRIES, o.retries());
        assertEquals(q, c.generatorNamed("q"));
        assertTrue(c.hasRemoteMembers());
        // the runtime's view: members, a remote one named as configured, shown by that name, never a path
        Member.Remote member = assertInstanceOf(Member.Remote.class, c.members().get(0));
        assertEquals("q", member.name());
        assertEquals("q", member.label());
        assertEquals(e, member.endpoint());
        // no judge or fuser: two members that cannot mix per token vote
        assertEquals("majority", c.composition().name());
        assertFalse(c.supports(Strategy.TOKEN_COMBINE));
    }

    @Test
    void aMissingKeyVariableIsAnErrorNamingTheEntry() throws Exception {
        String var = "BLENDER_TEST_UNSET_KEY_" + Long.toHexString(System.nanoTime());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(
                "{\"models\": [{\"url\": \"http://h:1/v1\", \"model\": \"m\", \"name\": \"mine\", \"apiKeyEnv\": \"" + var
                        + "\"}]}").buildConfig());
        assertTrue(e.getMessage().contains("remote member 'mine'") && e.getMessage().contains(var), e.getMessage());
    }

    @Test
    void badRemoteEntriesAreRefusedNamingThem() {
        String[][] cases = {
            {"{\"url\": \"http//h:1/v1\", \"model\": \"m\"}", "malformed URL 'http//h:1/v1'"},
            {"{\"url\": \"http://h:1/v1#m\"}", "no query or fragment"},
            {"{\"url\": \"http://h:1/v1\", \"threads\": 2}", "unknown key 'threads' in models[0], the remote entry of http://h:1/v1"},
            {"{\"url\": \"http://h:1/v1\", \"path\": \"a.gguf\"}", "unknown key 'path'"},
            {"{\"url\": \"http://h:1/v1\", \"role\": \"reranker\"}", "a generator, judge or fuser, not a reranker"},
            {"{\"url\": \"http://h:1/v1\", \"template\": \"arith\"}", "'template' is for a judge or fuser"},
            {"{\"url\": \"http://h:1/v1\", \"topLogprobs\": 0}", "topLogprobs of http://h:1/v1 must be >= 1"},
            {"{\"url\": \"http://h:1/v1\", \"topLogprobs\": \"5\"}", "models[0].topLogprobs must be a whole number, was \"5\""},
            {"{\"url\": \"http://h:1/v1\", \"retries\": \"3\"}", "models[0].retries must be a whole number, was \"3\""},
            {"{\"url\": \"http://h:1/v1\", \"name\": \"a/b\"}", "without slashes"},
            {"{\"path\": \"a.gguf\", \"apiKeyEnv\": \"X\"}", "models[0].apiKeyEnv is for remote members"},
        };
        for (String[] c : cases) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> parse("{\"models\": [" + c[0] + "]}").buildConfig(), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
        }
    }

    @Test
    void namesStayUnique() {
        Path local = TestModels.tiny(1, 1);
        String localName = BlenderConfig.shortName(local);
        IllegalArgumentException same = assertThrows(IllegalArgumentException.class, () -> Blender.builder()
                .generator(local).generator(RemoteEndpoint.of("http://h:1/v1", "x"), localName).buildConfig());
        assertTrue(same.getMessage().contains("two generators are named '" + localName + "'"), same.getMessage());
        IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> Blender.builder()
                .generator(RemoteEndpoint.of("http://h:1/v1", "x")).generator(RemoteEndpoint.of("http://h:2/v1", "x"))
                .buildConfig());
        assertTrue(twice.getMessage().contains("two remote members are named 'x'"), twice.getMessage());
    }

    @Test
    void compositionsThatReadLogitsAreRefusedWithRemoteMembers() throws Exception {
        Path local = TestModels.tiny(1, 1);
        BlenderConfig.Builder b = Blender.builder().generator(local).generator(RemoteEndpoint.of("http://h:1/v1", "r"));
        IllegalArgumentException mix = assertThrows(IllegalArgumentException.class,
                () -> b.strategy(Strategy.TOKEN_COMBINE).buildConfig());
        assertTrue(mix.getMessage().contains("remote member 'r' needs \"api\": \"completions\""), mix.getMessage());
        // through /v1/completions a remote member gives the top log-probabilities a linear or log-linear mix reads
        BlenderConfig.Builder completions = Blender.builder().generator(local).generator(RemoteEndpoint
                .of("http://h:1/v1", "r").withApi(RemoteEndpoint.Api.COMPLETIONS));
        assertTrue(completions.strategy(Strategy.TOKEN_COMBINE).buildConfig().supports(Composition.named("token:linear")));
        IllegalArgumentException pack = assertThrows(IllegalArgumentException.class, () -> completions.composition(
                CompositionJson.parse("{\"name\": \"p\", \"stages\": [{\"stage\": \"mix\", \"pack\": 1.0}]}"))
                .buildConfig());
        assertTrue(pack.getMessage().contains("mixes with pack"), pack.getMessage());
        IllegalArgumentException route = assertThrows(IllegalArgumentException.class, () -> b.composition(
                CompositionJson.parse("{\"name\": \"c\", \"stages\": [{\"stage\": \"route\", \"rule\": \"confidence\"},"
                        + " \"sample\"]}")).buildConfig());
        assertTrue(route.getMessage().contains("routes by confidence"), route.getMessage());
        BlenderConfig ok = b.composition(Composition.named("member:r")).buildConfig();
        assertTrue(ok.supports(Composition.named("majority")));
        assertFalse(ok.supports(Composition.named("fuse:mix3")));
    }

    @Test
    void recipesListRemoteMembersAsRowsAndLeaveOutMixes() throws Exception {
        JsonNode recipe = JSON.readTree("""
                {"models": [{"url": "http://h:1/v1", "model": "a"}, {"url": "http://h:2/v1", "model": "b"}],
                 "eval": {"checker": "exact"}}""");
        dev.blender.runtime.eval.Recipe r = dev.blender.runtime.eval.Recipe.load(write(recipe), null);
        List<String> rows = r.compositionsFor(r.config().buildConfig()).stream().map(Composition::name).toList();
        assertTrue(rows.containsAll(List.of("member:a", "member:b", "majority")), rows.toString());
        assertTrue(rows.stream().noneMatch(n -> n.startsWith("token:")), rows.toString());
        JsonNode completions = JSON.readTree("""
                {"models": [{"url": "http://h:1/v1", "model": "a", "api": "completions"},
                            {"url": "http://h:2/v1", "model": "b", "api": "completions"},
                            {"url": "http://h:3/v1", "model": "j", "api": "completions", "role": "judge", "template": "arith"},
                            {"url": "http://h:4/v1", "model": "f", "role": "fuser", "template": "arith"}],
                 "eval": {"checker": "exact"}}""");
        dev.blender.runtime.eval.Recipe all = dev.blender.runtime.eval.Recipe.load(write(completions), null);
        BlenderConfig c = all.config().buildConfig();
        assertEquals(Path.of("@remote", "j"), c.judge());
        assertTrue(c.remote(c.fuser()).isPresent());
        List<String> every = all.compositionsFor(c).stream().map(Composition::name).toList();
        assertTrue(every.containsAll(List.of("token:loglinear", "rank:maxlogits", "fuse:top3", "fuse:mix3")),
                every.toString());
    }

    /** docs/remote-members.md's examples read as configurations (built with stand-ins for their files and key). */
    @Test
    void theReadmeExamplesAreValid() throws Exception {
        String section = java.nio.file.Files.readString(Path.of("../docs/remote-members.md"));
        List<JsonNode> blocks = new java.util.ArrayList<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("```json\n(.*?)```", java.util.regex.Pattern.DOTALL)
                .matcher(section);
        while (m.find()) {
            blocks.add(JSON.readTree(m.group(1)));
        }
        assertEquals(4, blocks.size());
        List<Long> remoteGenerators = new java.util.ArrayList<>();
        List<String> servers = new java.util.ArrayList<>();
        for (JsonNode b : blocks) {
            BlenderConfigJson.fromJson(b.toString(), HERE); // every key and value as written
            // then built, with a stand-in for every local file and no key (the reader's own), generators only
            com.fasterxml.jackson.databind.node.ObjectNode copy = b.deepCopy();
            com.fasterxml.jackson.databind.node.ArrayNode generators = copy.putArray("models");
            for (JsonNode entry : b.get("models")) {
                com.fasterxml.jackson.databind.node.ObjectNode e = entry.deepCopy();
                if (e.has("url")) {
                    servers.add(e.get("url").asText());
                    e.remove("apiKeyEnv");
                    generators.add(e);
                } else if (e.path("role").asText("generator").equals("generator")) {
                    generators.add(e.put("path", TestModels.tiny(1, 1).toString()));
                }
            }
            BlenderConfig c = BlenderConfigJson.fromJson(copy.toString(), HERE).buildConfig();
            remoteGenerators.add(c.generators().stream().filter(g -> c.remote(g).isPresent()).count());
        }
        assertEquals(List.of(1L, 1L, 1L, 2L), remoteGenerators);
        assertEquals(List.of("http://gpu-box:8080/v1", "http://gpu-box:8000/v1", "http://127.0.0.1:11434/v1",
                "http://gpu-box:8080/v1", "http://gpu-box:8081/v1", "http://gpu-box:8082/v1", "http://gpu-box:8083/v1"),
                servers);
    }

    static Path write(JsonNode json) throws java.io.IOException {
        Path f = java.nio.file.Files.createTempFile("remote-recipe", ".json");
        f.toFile().deleteOnExit();
        java.nio.file.Files.writeString(f, json.toString());
        return f;
    }
}
