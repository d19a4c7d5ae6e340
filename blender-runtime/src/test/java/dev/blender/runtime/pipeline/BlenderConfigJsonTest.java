package dev.blender.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** A configuration file is read strictly: every field's type is checked, and the error names the field by its path. */
class BlenderConfigJsonTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path BASE = Path.of("models").toAbsolutePath();
    private static final String MODELS = "\"models\": [{\"path\": \"a.gguf\"}, {\"path\": \"j.gguf\", \"role\": \"judge\"}]";

    static BlenderConfig.Builder read(String json) throws Exception {
        return BlenderConfigJson.fromJson(json, BASE);
    }

    /** A configuration of the two models above and {@code extra} at the top level. */
    static String top(String extra) {
        return "{" + MODELS + ", " + extra + "}";
    }

    @Test
    void everyWrongTypeIsRefusedNamingTheFieldAndTheValue() {
        String[][] cases = {
            {top("\"temperature\": \"hot\""), "temperature must be a number, was \"hot\""},
            {top("\"temperature\": true"), "temperature must be a number, was true"},
            {top("\"candidatesPerModel\": \"4\""), "candidatesPerModel must be a whole number, was \"4\""},
            {top("\"candidatesPerModel\": 2.5"), "candidatesPerModel must be a whole number, was 2.5"},
            {top("\"topK\": null"), "topK must be a whole number, was null"},
            {top("\"maxTokens\": [8]"), "maxTokens must be a whole number, was [8]"},
            {top("\"fusedMaxTokens\": \"8\""), "fusedMaxTokens must be a whole number"},
            {top("\"contextSize\": 1e12"), "contextSize must be a whole number"},
            {top("\"threads\": \"all\""), "threads must be a whole number, was \"all\""},
            {top("\"gpuLayers\": false"), "gpuLayers must be a whole number, was false"},
            {top("\"memoryBudgetMiB\": \"8G\""), "memoryBudgetMiB must be a whole number, was \"8G\""},
            {top("\"deviceMemoryBudgetMiB\": 0.5"), "deviceMemoryBudgetMiB must be a whole number"},
            {top("\"parallelMembers\": \"yes\""), "parallelMembers must be true or false, was \"yes\""},
            {top("\"prefixReuse\": 1"), "prefixReuse must be true or false, was 1"},
            {top("\"probeLoad\": \"true\""), "probeLoad must be true or false"},
            {top("\"cascadeConfidence\": \"high\""), "cascadeConfidence must be a number, was \"high\""},
            {top("\"probeTimeoutSeconds\": \"60\""), "probeTimeoutSeconds must be a number"},
            {top("\"generatorPrompt\": 3"), "generatorPrompt must be a string, was 3"},
            {top("\"aggregation\": 1"), "aggregation must be a string, was 1"},
            {top("\"stop\": \"\\n\""), "stop must be an array of strings"},
            {top("\"stop\": [1]"), "stop must be an array of strings, has 1"},
            {top("\"candidateSampler\": 0.8"), "candidateSampler must be an object, was 0.8"},
            {top("\"candidateSampler\": {\"temperature\": \"warm\"}"),
                "candidateSampler.temperature must be a number, was \"warm\""},
            {top("\"candidateSampler\": {\"topK\": 0.5}"), "candidateSampler.topK must be a whole number, was 0.5"},
            {top("\"candidateSampler\": {\"topP\": \"0.9\"}"), "candidateSampler.topP must be a number"},
            {top("\"candidateSampler\": {\"minP\": []}"), "candidateSampler.minP must be a number"},
            {top("\"strategy\": [{\"stage\": \"sample\", \"perModel\": \"4\"}]"),
                "strategy: sample.perModel must be a whole number, was \"4\""},
            {top("\"strategy\": [{\"stage\": \"sample\", \"matchPool\": \"yes\"}]"),
                "strategy: sample.matchPool must be true or false"},
            {top("\"strategy\": [\"sample\", {\"stage\": \"gate\", \"threshold\": \"0.5\"}]"),
                "strategy: gate.threshold must be a number"},
            {top("\"strategy\": [\"sample\", \"fuse\", {\"stage\": \"refine\", \"rounds\": \"2\"}]"),
                "strategy: refine.rounds must be a whole number"},
            {top("\"strategy\": {\"name\": 3, \"stages\": [\"vote\"]}"), "the composition.name must be a string"},
            {top("\"eval\": []"), "eval must be an object"},
            {"{\"models\": [\"a.gguf\"]}", "models[0] must be an object"},
            {"{\"models\": [{\"path\": 3}]}", "models[0].path must be a string, was 3"},
            {"{\"models\": [{\"path\": \"a.gguf\", \"role\": 1}]}", "models[0].role must be a string, was 1"},
            {"{\"models\": [{\"path\": \"a.gguf\"}, {\"path\": \"b.gguf\", \"threads\": \"2\"}]}",
                "models[1].threads must be a whole number, was \"2\""},
            {"{\"models\": [{\"path\": \"a.gguf\", \"gpuLayers\": -1.5}]}", "models[0].gpuLayers must be a whole number"},
            {"{\"models\": [{\"path\": \"a.gguf\", \"contextSize\": \"64\"}]}", "models[0].contextSize must be a whole number"},
            {"{\"models\": [{\"base\": \"b.gguf\", \"adapter\": \"x.gguf\", \"scale\": \"1\"}]}",
                "models[0].scale must be a number, was \"1\""},
            {"{\"models\": [{\"base\": \"b.gguf\", \"adapter\": \"x.gguf\", \"name\": 7}]}", "models[0].name must be a string"},
            {"{\"models\": [{\"base\": 1, \"adapter\": \"x.gguf\"}]}", "models[0].base must be a string"},
            {"{\"models\": [{\"path\": \"a.gguf\", \"template\": \"arith\"}]}",
                "models[0].template is for a judge or fuser, not a generator"},
            {"{\"models\": [{\"path\": \"j.gguf\", \"role\": \"judge\", \"template\": 3}]}",
                "models[0].template: unknown judge template 3"},
            {"{\"models\": [{\"path\": \"j.gguf\", \"role\": \"judge\", \"template\": {\"verdicts\": [\" A\", 2]}}]}",
                "models[0].template.verdicts must be an array of strings, has 2"},
            {"{\"models\": [{\"path\": \"j.gguf\", \"role\": \"judge\", \"template\": {\"verdicts\": [\" A\", \" B\"],"
                + " \"maxRationaleTokens\": \"9\"}}]}", "models[0].template.maxRationaleTokens must be a whole number"},
            {"{\"models\": [{\"path\": \"j.gguf\", \"role\": \"judge\", \"template\": {\"verdicts\": [\" A\", \" B\"],"
                + " \"useChatTemplate\": \"no\"}}]}", "models[0].template.useChatTemplate must be true or false"},
            {"{\"models\": [{\"path\": \"f.gguf\", \"role\": \"fuser\", \"template\": {\"candidates\": \"3\"}}]}",
                "models[0].template.candidates must be a whole number"},
            {"{\"models\": [{\"path\": \"f.gguf\", \"role\": \"fuser\", \"template\": {\"separator\": 0}}]}",
                "models[0].template.separator must be a string"},
            {"{\"models\": [{\"url\": 8080}]}", "models[0].url must be a string, was 8080"},
            {"{\"models\": [{\"url\": \"http://h:1/v1\", \"timeoutSeconds\": \"60\"}]}",
                "models[0].timeoutSeconds must be a number, was \"60\""},
            {"{\"models\": [{\"url\": \"http://h:1/v1\", \"retries\": 1.5}]}", "models[0].retries must be a whole number"},
            {"{\"models\": [{\"url\": \"http://h:1/v1\", \"api\": true}]}", "models[0].api must be a string"},
        };
        List<String> wrong = new ArrayList<>();
        for (String[] c : cases) {
            try {
                read(c[0]);
                wrong.add(c[0] + " was accepted");
            } catch (IllegalArgumentException e) {
                if (!e.getMessage().contains(c[1])) {
                    wrong.add(c[0] + "\n  said: " + e.getMessage() + "\n  want: " + c[1]);
                }
            } catch (Exception e) {
                wrong.add(c[0] + " threw " + e);
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    @Test
    void unknownKeysAreRefusedNamingThemAndWhereTheyAre() {
        String[][] cases = {
            {top("\"temprature\": 0.8"), "unknown key 'temprature' in the configuration"},
            {"{\"models\": [{\"path\": \"a.gguf\", \"thread\": 2}]}", "unknown key 'thread' in models[0] (a.gguf)"},
            {"{\"models\": [{\"url\": \"http://h:1/v1\", \"key\": \"x\"}]}", "unknown key 'key' in models[0], the remote"
                + " entry of http://h:1/v1"},
            {top("\"candidateSampler\": {\"top_p\": 0.9}"), "unknown key 'top_p' in candidateSampler"},
            {"{\"models\": [{\"path\": \"j.gguf\", \"role\": \"judge\", \"template\": {\"verdicts\": [\" A\", \" B\"],"
                + " \"promt\": \"x\"}}]}", "unknown key 'promt' in models[0].template"},
            {"{\"models\": [{\"path\": \"f.gguf\", \"role\": \"fuser\", \"template\": {\"format\": \"x\"}}]}",
                "unknown key 'format' in models[0].template"},
            {top("\"strategy\": [{\"stage\": \"rank\", \"topk\": 3}]"), "unknown key 'topk' in rank"},
        };
        for (String[] c : cases) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> read(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
        }
    }

    @Test
    void rightTypesAreRead() throws Exception {
        String model = dev.blender.nativebridge.TestModels.tiny(1, 1).toString();
        BlenderConfig c = read("{\"models\": [{\"path\": " + JSON.writeValueAsString(model) + ", \"threads\": 1}],"
                + " \"temperature\": 0.7, \"candidatesPerModel\": 3, \"topK\": 2, \"maxTokens\": 9,"
                + " \"parallelMembers\": false, \"stop\": [\"\\n\"], \"generatorPrompt\": \"Q: {prompt}\"}").buildConfig();
        assertEquals(3, c.candidatesPerModel());
        assertEquals(0.7f, c.candidateSampler().temperature());
        assertEquals(List.of("\n"), c.stop());
    }

    /**
     * Every configuration README.md and docs/ show (the JSON blocks that list models) is read as it stands: the
     * README's own, and the reference's in docs/.
     */
    @Test
    void theDocumentedConfigurationsLoad() throws Exception {
        List<Path> files = new ArrayList<>(List.of(Path.of("../README.md")));
        try (var docs = Files.list(Path.of("../docs"))) {
            docs.filter(f -> f.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        Map<Path, Integer> configurations = new java.util.LinkedHashMap<>();
        for (Path file : files) {
            Matcher block = Pattern.compile("```json\\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(file));
            while (block.find()) {
                JsonNode node;
                try {
                    node = JSON.readTree(block.group(1));
                } catch (Exception e) {
                    continue; // a fragment, not a whole document
                }
                if (node.isObject() && node.has("models")) {
                    try {
                        BlenderConfigJson.fromJson(node.toString(), BASE);
                    } catch (IllegalArgumentException e) {
                        throw new AssertionError(file + ": configuration refused: " + e.getMessage() + "\n"
                                + block.group(1), e);
                    }
                    configurations.merge(file, 1, Integer::sum);
                }
            }
        }
        assertTrue(configurations.getOrDefault(Path.of("../README.md"), 0) >= 1, "the README's: " + configurations);
        assertTrue(configurations.values().stream().mapToInt(Integer::intValue).sum() >= 8,
                "the configurations were found: " + configurations);
    }
}
