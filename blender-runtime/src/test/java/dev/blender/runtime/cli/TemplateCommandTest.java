package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.nativebridge.TestModels;
import dev.blender.nativebridge.gguf.SyntheticLlama;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TemplateCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    /** Every reference render of the shared data, through {@code template --batch} in one run. */
    @Test
    void theBatchGivesEveryReferenceRenderAndRefusesWhatTheReferenceRefuses() throws IOException {
        Path data = TestModels.sharedFile("data/chat-templates");
        Path templates = TestModels.sharedFile("data/llama.cpp-v0.5.0/templates");
        JsonNode conversations = JSON.readTree(data.resolve("conversations.json").toFile());
        List<JsonNode> expected = new ArrayList<>();
        StringBuilder in = new StringBuilder();
        for (String line : Files.readAllLines(data.resolve("expected.jsonl"))) {
            JsonNode e = JSON.readTree(line);
            expected.add(e);
            ObjectNode q = JSON.createObjectNode();
            q.put("template", templates.resolve(e.get("template").asText() + ".jinja").toString());
            q.set("messages", conversations.get(e.get("conversation").asText()).get("messages"));
            for (String f : new String[] {"add_generation_prompt", "bos_token", "eos_token", "now"}) {
                q.set(f, e.get(f));
            }
            in.append(JSON.writeValueAsString(q)).append('\n');
        }
        RunCommandTest.Run r = RunCommandTest.run("", "template", "--batch", write("in.jsonl", in.toString()).toString());
        List<String> out = r.out().lines().toList();
        assertEquals(expected.size(), out.size(), "one line out per line in: " + r.err());
        int identical = 0;
        int refused = 0;
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < out.size(); i++) {
            JsonNode got = JSON.readTree(out.get(i));
            JsonNode e = expected.get(i);
            String what = e.get("template").asText() + "/" + e.get("conversation").asText();
            if (e.get("status").asText().equals("ok")) {
                if (got.has("text") && got.get("text").asText().equals(e.get("text").asText())) {
                    identical++;
                } else {
                    wrong.add(what + ": " + got);
                }
            } else if (got.has("error")) {
                refused++;
            } else {
                wrong.add(what + " should be refused (" + e.get("error") + "), rendered " + got);
            }
        }
        assertEquals(List.of(), wrong);
        assertTrue(identical >= 390 && refused >= 20, identical + " identical, " + refused + " refused");
        assertEquals(1, r.code(), "a batch with refused lines exits 1");
    }

    @Test
    void aModelsOwnTemplateAndSpecialTokensArePrintedExactly() throws IOException {
        String template = "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}"
                + "{% if add_generation_prompt %}[assistant]{% endif %}";
        Path model = TestModels.generated("template-command", SyntheticLlama.builder().chatTemplate(template).build());
        Path messages = write("chat.json", "[{\"role\": \"system\", \"content\": \"Be brief.\"},"
                + " {\"role\": \"user\", \"content\": \"2+2?\"}]");
        RunCommandTest.Run r = RunCommandTest.run("", "template", model.toString(), "--messages", messages.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals("<s>[system]Be brief.</s>[user]2+2?</s>[assistant]", r.out(), "no newline added");
        RunCommandTest.Run closed = RunCommandTest.run("", "template", model.toString(), "--messages",
                messages.toString(), "--no-generation-prompt");
        assertEquals("<s>[system]Be brief.</s>[user]2+2?</s>", closed.out());
    }

    @Test
    void aTemplateFileTakesTheClockAndVariablesGiven() throws IOException {
        Path llama = TestModels.sharedFile("data/llama.cpp-v0.5.0/templates/meta-llama-Llama-3.2-3B-Instruct.jinja");
        Path qwen3 = TestModels.sharedFile("data/llama.cpp-v0.5.0/templates/Qwen-Qwen3-0.6B.jinja");
        Path messages = write("chat.json", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
        RunCommandTest.Run r = RunCommandTest.run("", "template", "--template", llama.toString(), "--bos-token",
                "<|begin_of_text|>", "--messages", messages.toString(), "--now", "2026-07-26");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2026\n\n<|eot_id|>"), r.out());
        RunCommandTest.Run thinking = RunCommandTest.run("", "template", "--template", qwen3.toString(), "--messages",
                messages.toString());
        RunCommandTest.Run not = RunCommandTest.run("", "template", "--template", qwen3.toString(), "--messages",
                messages.toString(), "--kwargs", "{\"enable_thinking\": false}");
        assertEquals("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", thinking.out());
        assertEquals(thinking.out() + "<think>\n\n</think>\n\n", not.out());
    }

    @Test
    void badInputIsOneLineNamingWhatIsWrong() throws IOException {
        Path t = write("t.jinja", "{% for m in messages %}{{ m.content }}{% endfor %}");
        Path notAList = write("bad.json", "{\"role\": \"user\"}");
        RunCommandTest.Run r = RunCommandTest.run("", "template", "--template", t.toString(), "--messages",
                notAList.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("blender: messages must be a JSON array") && r.err().lines().count() == 1, r.err());
        Path ok = write("ok.json", "[{\"role\": \"user\", \"content\": \"hi\"}]");
        Path raising = write("raise.jinja", "{{ raise_exception('System role not supported') }}");
        RunCommandTest.Run raised = RunCommandTest.run("", "template", "--template", raising.toString(), "--messages",
                ok.toString());
        assertEquals(2, raised.code());
        assertTrue(raised.err().contains("System role not supported") && !raised.err().contains("\tat "), raised.err());
        Path broken = write("broken.jinja", "{% for m in messages %}{{ m.content }}");
        RunCommandTest.Run unclosed = RunCommandTest.run("", "template", "--template", broken.toString(), "--messages",
                ok.toString());
        assertTrue(unclosed.err().contains("line 1") && unclosed.err().contains("for"), unclosed.err());
        RunCommandTest.Run date = RunCommandTest.run("", "template", "--template", t.toString(), "--messages",
                ok.toString(), "--now", "July");
        assertTrue(date.err().contains("--now must be an ISO date"), date.err());
        RunCommandTest.Run neither = RunCommandTest.run("", "template", "--messages", ok.toString());
        assertTrue(neither.err().contains("either MODEL.gguf or --template"), neither.err());
    }

    @Test
    void aBatchLineThatFailsIsAnErrorLineAndTheRestGoOn() throws IOException {
        Path t = write("t.jinja", "{% for m in messages %}{{ m.content }}{% endfor %}");
        String in = "{\"template\": \"" + t + "\", \"messages\": [{\"role\": \"user\", \"content\": \"one\"}]}\n"
                + "not json\n"
                + "{\"template\": \"" + dir.resolve("missing.jinja") + "\", \"messages\": []}\n"
                + "{\"template\": \"" + t + "\", \"messages\": [], \"add_generation_prompt\": \"yes\"}\n"
                + "{\"template\": \"" + t + "\", \"messages\": [{\"role\": \"user\", \"content\": \"two\"}]}\n";
        RunCommandTest.Run r = RunCommandTest.run("", "template", "--batch", write("in.jsonl", in).toString());
        List<String> out = r.out().lines().toList();
        assertEquals(5, out.size(), r.out() + r.err());
        assertEquals("{\"text\":\"one\"}", out.get(0));
        assertTrue(out.get(1).contains("line 2 is not JSON"), out.get(1));
        assertTrue(out.get(2).contains("cannot read template"), out.get(2));
        assertTrue(out.get(3).contains("add_generation_prompt"), out.get(3));
        assertEquals("{\"text\":\"two\"}", out.get(4));
    }
}
