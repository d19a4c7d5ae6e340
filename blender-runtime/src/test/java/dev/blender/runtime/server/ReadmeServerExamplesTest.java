package dev.blender.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Strategy;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The curl and Node examples of the README's "Serving" section, run as the README has them
 * (only the port changed) against a server with the arith defaults that {@code blender serve} uses.
 */
class ReadmeServerExamplesTest {
    static final String SECTION = "## Serving (OpenAI-compatible)";
    static final String README_URL = "http://127.0.0.1:8080";

    static ServerTestSupport.ArithServer arith;

    @BeforeAll
    static void start() throws Exception {
        arith = ServerTestSupport.ArithServer.start();
    }

    @AfterAll
    static void stop() {
        arith.close();
    }

    /** The fenced blocks of the section in {@code language}, in order. */
    static List<String> blocks(String language) throws IOException {
        String readme = Files.readString(Path.of("../README.md"));
        int start = readme.indexOf(SECTION);
        assertTrue(start >= 0, "README has the section " + SECTION);
        int end = readme.indexOf("\n## ", start + SECTION.length());
        String section = readme.substring(start, end < 0 ? readme.length() : end);
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("```" + language + "\n(.*?)```", Pattern.DOTALL).matcher(section);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    /** The block that contains {@code text}, with the README's server address replaced by the test's. */
    static String example(String language, String text) throws IOException {
        String block = blocks(language).stream().filter(b -> b.contains(text)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + language + " block with " + text + " in " + SECTION));
        assertTrue(block.contains(README_URL), block);
        return block.replace(README_URL, ServerTestSupport.root(arith.server()));
    }

    @Test
    void theCurlExampleGetsTheFullBlendWithItsCandidates() throws Exception {
        String command = example("sh", "curl ");
        Process p;
        try {
            p = new ProcessBuilder("bash", "-c", command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        } catch (IOException e) {
            System.out.println("SKIPPED: the README's curl example: no bash (" + e.getMessage() + ")");
            assumeTrue(false);
            return;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES));
        if (p.exitValue() == 127) {
            System.out.println("SKIPPED: the README's curl example: curl is not installed");
            assumeTrue(false);
        }
        assertEquals(0, p.exitValue(), out);
        JsonNode reply = ServerTestSupport.readJson(out);
        BlendResult local = arith.blender().blend(BlendRequest.builder().prompt("37+48=").seed(3).strategy(Strategy.FULL_BLEND)
                .candidatesPerModel(4).topK(3).build());
        assertEquals(local.answer(), reply.get("choices").get(0).get("message").get("content").asText());
        assertEquals(8, reply.get("blender").get("candidates").size(), "2 generators x 4 candidates");
        assertEquals(local.fused().text().strip(), reply.get("blender").get("fused").asText());
    }

    @Test
    void theNodeExamplePrintsTheStreamedAnswer() throws Exception {
        String script = example("js", "from 'openai'");
        Matcher says = Pattern.compile("// prints (\\S+)").matcher(script);
        assertTrue(says.find(), "the example says what it prints");
        NodeClient.Result r = NodeClient.run(script, Map.of());
        assertEquals(0, r.code(), r.out() + r.err());
        assertEquals(says.group(1) + "\n", r.out());
        assertEquals(arith.blender().blend(BlendRequest.builder().prompt("37+48=").seed(3).build()).answer(), says.group(1));
    }
}
