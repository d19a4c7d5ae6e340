package dev.blender.runtime.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A question with its gold answers: {@code {question, answer}} lines as in shared/data/arith/dev.jsonl
 * and GSM8K, where the answer is a string, or NQ-open, where it is a list of acceptable strings.
 */
public record Problem(String question, List<String> answers) {

    public Problem {
        answers = List.copyOf(answers);
    }

    public Problem(String question, String answer) {
        this(question, List.of(answer));
    }

    /** The first gold answer. */
    public String answer() {
        return answers.get(0);
    }

    /**
     * The problems after the first {@code skip}, at most {@code limit} of them ({@code blender eval --skip
     * --limit}).
     *
     * @throws IllegalArgumentException a negative skip or limit, or no problem left (naming the file)
     */
    public static List<Problem> readJsonl(Path file, int skip, int limit) {
        if (skip < 0) {
            throw new IllegalArgumentException("--skip must be >= 0, was " + skip);
        }
        if (limit < 1) {
            throw new IllegalArgumentException("--limit must be >= 1, was " + limit);
        }
        List<Problem> all = readJsonl(file, skip + limit);
        if (all.size() <= skip) {
            throw new IllegalArgumentException("no problems in " + file + (skip > 0 ? " after the first " + skip : ""));
        }
        return List.copyOf(all.subList(skip, all.size()));
    }

    /**
     * Reads JSON lines {@code {"question": ..., "answer": ...}}; a line that is not such an object is an
     * error naming the file and line.
     */
    public static List<Problem> readJsonl(Path file, int limit) {
        ObjectMapper json = new ObjectMapper();
        List<Problem> out = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file)) {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null && out.size() < limit) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = json.readTree(line);
                } catch (JsonProcessingException e) {
                    throw new IllegalArgumentException(file + ":" + number + ": not JSON: " + e.getOriginalMessage());
                }
                JsonNode q = node.get("question");
                JsonNode a = node.get("answer");
                if (q == null || !q.isTextual() || a == null || a.isNull()) {
                    throw new IllegalArgumentException(file + ":" + number
                            + ": expected {\"question\": string, \"answer\": ...}");
                }
                List<String> gold = new ArrayList<>();
                if (a.isArray()) {
                    a.forEach(x -> gold.add(x.asText()));
                } else {
                    gold.add(a.asText());
                }
                if (gold.isEmpty()) {
                    throw new IllegalArgumentException(file + ":" + number + ": empty answer list");
                }
                out.add(new Problem(q.asText(), gold));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read problems from " + file, e);
        }
        return out;
    }
}
