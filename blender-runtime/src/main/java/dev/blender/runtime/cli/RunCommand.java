package dev.blender.runtime.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.blender.runtime.pipeline.BlendListener;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.server.BlendResultJson;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code blender run}: answers one prompt with the configured blender, streaming the answer (or, with
 * {@code --json}, printing the whole result as one JSON object).
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Answers one prompt with a blend of models and streams the answer to stdout.",
            "With no model options: the arith family from shared/models/arith, e.g. blender run 17+62="})
final class RunCommand implements Callable<Integer> {
    @Mixin
    BlenderOptions blender;

    @Option(names = "--json", description = "print the answer, candidates, ranking and timings as one JSON object")
    boolean json;

    @Option(names = "--seed", defaultValue = "1", description = "sampling seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Parameters(arity = "1..*", paramLabel = "PROMPT", description = "the prompt (words are joined with spaces; - reads stdin)")
    List<String> words;

    @Override
    public Integer call() {
        String prompt = prompt();
        try (Blender b = blender.open(System.err)) {
            BlendRequest request = BlendRequest.builder().prompt(prompt).seed(seed).build();
            if (json) {
                BlendResult r = b.blend(request);
                System.out.println(toJson(r));
                return 0;
            }
            PrintWriter out = new PrintWriter(System.out, false, StandardCharsets.UTF_8);
            BlendResult r = b.blend(request, new AnswerStream(out));
            out.println();
            out.flush();
            System.err.println(summary(r));
            return 0;
        }
    }

    private String prompt() {
        String text;
        if (words.size() == 1 && words.get(0).equals("-")) {
            try {
                text = new String(System.in.readAllBytes(), StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the prompt from stdin: " + e.getMessage(), e);
            }
        } else {
            text = String.join(" ", words);
        }
        if (text.isBlank()) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        return text;
    }

    /** The one-line summary printed after a streamed answer. */
    static String summary(BlendResult r) {
        BlendResult.Timings t = r.timings();
        return String.format(Locale.ROOT, "[%s%s, %d candidates, %.1f ms total, first token %s]", r.strategy(),
                r.escalated() ? " escalated" : "",
                r.candidates().size(), t.totalMillis(),
                t.firstTokenMillis() < 0 ? "-" : String.format(Locale.ROOT, "%.1f ms", t.firstTokenMillis()));
    }

    /** The result as a JSON object: strategy, answer, candidates, ranking (when ranked), fused, timings. */
    static String toJson(BlendResult r) {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("strategy", r.strategy());
        root.put("answer", r.answer());
        BlendResultJson.putDetails(root, r, true);
        try {
            return mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Prints answer tokens as they arrive. Leading whitespace is dropped because SentencePiece answers
     * start with a space, which would shift the answer off the prompt line.
     */
    static final class AnswerStream implements BlendListener {
        private final PrintWriter out;
        private boolean started;

        AnswerStream(PrintWriter out) {
            this.out = out;
        }

        @Override
        public void onAnswer(String text) {
            if (!started) {
                text = text.stripLeading();
                started = !text.isEmpty();
            }
            out.print(text);
            out.flush();
        }
    }
}
