package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.gguf.GgufFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The three specialist workflows of docs/specialists.md (merge, LoRA adapters, routing) run as it has them,
 * in-process: its {@code sh} block line by line with {@code ../shared} and the output folder moved under a
 * temporary folder, its recipe written where the block expects it, and the eval on the first 40 problems
 * instead of all 500.
 */
class ReadmeSpecialistsTest {
    static final String SECTION = "# Specialists: merging, LoRA adapters, routing";
    static final int PROBLEMS = 40;

    @Test
    void theWorkflowsRunAsWritten(@TempDir Path root) throws IOException {
        Path shared = TestModels.sharedFile("models/specialists").getParent().getParent();
        TestModels.sharedFile("models/arith/judge.gguf");
        String section = section();
        List<String> commands = block(section, "sh").lines().filter(l -> !l.isBlank()).toList();
        String recipe = block(section, "json");

        String evalOutput = null;
        for (String line : commands) {
            List<String> words = new ArrayList<>(Arrays.asList(line.strip().split("\\s+")));
            assertFalse(line.contains("'") || line.contains("\"") || line.contains("$"),
                    "the commands stay plain words, so that they can be run here: " + line);
            if (words.get(0).equals("mkdir")) {
                Files.createDirectories(root.resolve(words.get(words.size() - 1)));
                continue;
            }
            assertEquals("bin/blender", words.get(0), line);
            List<String> args = words.subList(1, words.size()).stream()
                    .map(w -> w.startsWith("../shared/") ? shared.resolve(w.substring("../shared/".length())).toString()
                            : w.startsWith("specialists/") ? root.resolve(w).toString() : w)
                    .collect(java.util.stream.Collectors.toCollection(ArrayList::new));
            if (args.get(0).equals("eval")) {
                // the recipe the document says to save, with its paths to the shared folder made absolute
                Files.writeString(root.resolve("specialists/recipe.json"),
                        recipe.replace("../../shared/", shared.toString() + "/"));
                args.addAll(List.of("--limit", Integer.toString(PROBLEMS)));
            }
            BlenderCliTest.Run r = BlenderCliTest.run(args.toArray(String[]::new));
            assertEquals(0, r.code(), line + "\n" + r.err());
            if (args.get(0).equals("eval")) {
                evalOutput = r.out();
            }
        }
        assertTrue(evalOutput != null, "the block ends with an eval");
        System.out.println(evalOutput);

        GgufFile ties = GgufFile.read(root.resolve("specialists/ties.gguf"));
        assertEquals("ties", ties.string("blender.merge.method").orElseThrow());
        assertTrue(Files.size(root.resolve("specialists/add-r16.gguf")) < Files.size(shared.resolve(
                "models/specialists/add.gguf")) / 2, "a rank-16 adapter is a fraction of the model");

        Map<String, double[]> rows = rows(evalOutput);
        for (JsonNode c : new ObjectMapper().readTree(recipe).path("eval").path("compositions")) {
            String name = c.isTextual() ? c.asText() : c.path("name").asText();
            assertTrue(rows.containsKey(name), "a row for " + name + " in\n" + evalOutput);
        }
        // by the rule, + goes to the add adapter and - to the sub adapter: the router's accuracy on each
        // operation is that adapter's, exactly
        assertEquals(rows.get("member:add-r16")[1], rows.get("route:rule")[1], "+ routed to add-r16");
        assertEquals(rows.get("member:sub-r16")[2], rows.get("route:rule")[2], "- routed to sub-r16");
        // the specialists, their merge, their adapters and the blends of them all beat the base they came from
        double base = rows.get("member:base")[0];
        rows.forEach((name, acc) -> {
            if (!name.startsWith("pool:") && !name.equals("member:base")) {
                assertTrue(acc[0] > base, name + " " + acc[0] + " against the base's " + base);
            }
        });
    }

    static String section() throws IOException {
        String doc = Files.readString(Path.of("../docs/specialists.md"));
        int start = doc.indexOf(SECTION);
        assertTrue(start >= 0, "docs/specialists.md has the section " + SECTION);
        int end = doc.indexOf("\n## ", start);
        return doc.substring(start, end);
    }

    static String block(String section, String language) {
        Matcher m = Pattern.compile("```" + language + "\n(.*?)```", Pattern.DOTALL).matcher(section);
        assertTrue(m.find(), "a " + language + " block in " + SECTION);
        return m.group(1);
    }

    /** Each row of the eval table: accuracy, then the accuracy in each group (+, -). */
    static Map<String, double[]> rows(String table) {
        Map<String, double[]> rows = new LinkedHashMap<>();
        Pattern row = Pattern.compile(
                "^(\\S+)\\s+([0-9.]+)\\s+[0-9.]+ - [0-9.]+\\s+[0-9.]+\\s+[0-9.]+\\s+([0-9.]+)\\s+([0-9.]+)$");
        table.lines().map(row::matcher).filter(Matcher::matches).forEach(m -> rows.put(m.group(1), new double[] {
            Double.parseDouble(m.group(2)), Double.parseDouble(m.group(3)), Double.parseDouble(m.group(4))}));
        return rows;
    }
}
