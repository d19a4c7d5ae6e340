package dev.blender.nativebridge.chat;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.blender.nativebridge.TestModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** The reference renders and real templates in ../shared, read at test time (never copied into the repository). */
final class ReferenceData {
    private ReferenceData() {}

    /** One line of expected.jsonl. */
    record Case(String template, String conversation, boolean addGenerationPrompt, String bos, String eos,
            LocalDateTime now, boolean ok, String text, String error) {
        String id() {
            return template + "/" + conversation + "/" + (addGenerationPrompt ? "gen" : "nogen");
        }
    }

    static Path templatesDir() {
        return TestModels.sharedFile("data/llama.cpp-v0.5.0/templates");
    }

    static Path renders() {
        return TestModels.sharedFile("data/chat-templates");
    }

    /** Template name (file name without .jinja) to source, sorted by name. */
    static Map<String, String> templates() {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(templatesDir())) {
            for (Path p : files.filter(f -> f.toString().endsWith(".jinja")).toList()) {
                out.put(p.getFileName().toString().replaceFirst("\\.jinja$", ""), Files.readString(p));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assumeTrue(!out.isEmpty(), "no templates in " + templatesDir());
        return out;
    }

    @SuppressWarnings("unchecked")
    static Map<String, List<Map<String, Object>>> conversations() {
        try {
            Map<String, Object> all = (Map<String, Object>) MiniJson.parse(Files.readString(renders().resolve("conversations.json")));
            Map<String, List<Map<String, Object>>> out = new TreeMap<>();
            all.forEach((k, v) -> out.put(k, (List<Map<String, Object>>) ((Map<String, Object>) v).get("messages")));
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static List<Case> cases() {
        try {
            List<Case> out = new ArrayList<>();
            for (String line : Files.readAllLines(renders().resolve("expected.jsonl"))) {
                if (line.isBlank()) continue;
                Map<String, Object> m = (Map<String, Object>) MiniJson.parse(line);
                boolean ok = "ok".equals(m.get("status"));
                out.add(new Case((String) m.get("template"), (String) m.get("conversation"),
                        (Boolean) m.get("add_generation_prompt"), (String) m.get("bos_token"), (String) m.get("eos_token"),
                        LocalDateTime.parse((String) m.get("now")), ok, (String) m.get("text"), (String) m.get("error")));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ChatTemplate.Input input(Case c, Map<String, List<Map<String, Object>>> conversations) {
        return new ChatTemplate.Input(conversations.get(c.conversation()), c.addGenerationPrompt(), c.bos(), c.eos(), c.now(), Map.of());
    }
}
