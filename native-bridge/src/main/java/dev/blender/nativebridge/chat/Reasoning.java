package dev.blender.nativebridge.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Where a reasoning model's thinking ends and its answer begins. Reasoning families (Qwen3, QwQ, DeepSeek-R1
 * and its distills, Magistral, Seed-OSS, MiniMax, Gemma 4, Apriel) write a thinking part before the answer,
 * each between markers of its own; a blend must rank, vote on and fuse answers, not thoughts.
 *
 * <p>The markers a model uses are read off its chat template ({@link #forTemplate}): a template that never
 * mentions {@code <think>} or {@code </think>} does not make its model write one, and looking only for a family's own markers
 * keeps an answer that merely quotes another family's markers whole. The split keys on the closing marker,
 * because many templates open the thinking part themselves in the generation prompt ({@code <think>\n}), so
 * the model's text starts inside it. Immutable; safe from any thread.
 */
public final class Reasoning {
    /** A thinking part between {@code open} and {@code close}; the answer follows {@code close}. */
    private record Span(String open, String close) {}

    /** Apriel's answer sits between these, after unmarked reasoning. */
    private static final String FINAL_BEGIN = "[BEGIN FINAL RESPONSE]";
    private static final String FINAL_END = "[END FINAL RESPONSE]";

    private static final List<Span> KNOWN = List.of(
            new Span("<think>", "</think>"),
            new Span("<seed:think>", "</seed:think>"),
            new Span("<mm:think>", "</mm:think>"),
            new Span("[THINK]", "[/THINK]"),
            new Span("<thinking>", "</thinking>"),
            new Span("<|channel>thought", "<channel|>"));

    /** For text with no thinking part: every split is the whole text as the answer. */
    public static final Reasoning NONE = new Reasoning(List.of(), false);

    private final List<Span> spans;
    private final boolean finalResponseMarkers;

    private Reasoning(List<Span> spans, boolean finalResponseMarkers) {
        this.spans = spans;
        this.finalResponseMarkers = finalResponseMarkers;
    }

    /** A model's text as thinking and answer; {@code thinking} is empty when there was none. */
    public record Split(String thinking, String answer) {
        public Split {
            Objects.requireNonNull(thinking, "thinking");
            Objects.requireNonNull(answer, "answer");
        }

        public boolean hasThinking() {
            return !thinking.isEmpty();
        }
    }

    /**
     * The markers a model with this chat template writes; a model without a template ({@code null}) is taken
     * to use {@code <think>} only, the commonest.
     */
    public static Reasoning forTemplate(String templateSource) {
        if (templateSource == null) {
            return new Reasoning(List.of(KNOWN.getFirst()), false);
        }
        List<Span> used = new ArrayList<>();
        for (Span s : KNOWN) {
            if (templateSource.contains(s.close()) || templateSource.contains(s.open())) {
                used.add(s);
            }
        }
        boolean finals = templateSource.contains(FINAL_BEGIN);
        return used.isEmpty() && !finals ? NONE : new Reasoning(List.copyOf(used), finals);
    }

    /** Whether this model writes a thinking part at all. */
    public boolean isReasoning() {
        return !spans.isEmpty() || finalResponseMarkers;
    }

    /**
     * Whether a prompt leaves the model inside a thinking part: its generation prompt opened one
     * ({@code <think>\n}, as DeepSeek-R1's and QwQ's templates write) and nothing closed it.
     */
    public boolean opensThinking(String prompt) {
        return openedBy(prompt) != null;
    }

    /** The thinking part a prompt leaves open, or null. */
    private Span openedBy(String prompt) {
        Objects.requireNonNull(prompt, "prompt");
        for (Span s : spans) {
            int open = prompt.lastIndexOf(s.open());
            if (open >= 0 && prompt.indexOf(s.close(), open) < 0) {
                return s;
            }
        }
        return null;
    }

    /**
     * The prompt with a thinking part it opened closed, empty, as templates write one when thinking is switched
     * off ({@code <think>\n\n</think>\n\n}), so that the model answers at once; other prompts as they are.
     */
    public String closeThinking(String prompt) {
        Span s = openedBy(prompt);
        return s == null ? prompt : prompt + (prompt.endsWith("\n") ? "" : "\n") + "\n" + s.close() + "\n\n";
    }

    /** {@link #split(String, boolean)} of text whose prompt did not open a thinking part. */
    public Split split(String text) {
        return split(text, false);
    }

    /**
     * Splits a model's text. A thinking part that never closed (the length ran out while thinking) is all
     * thinking and no answer: a thought cut short is not an answer to rank.
     *
     * @param insideThinking the prompt opened the thinking part ({@link #opensThinking}), so the text starts
     *                       in it without an opening marker
     */
    public Split split(String text, boolean insideThinking) {
        Objects.requireNonNull(text, "text");
        if (finalResponseMarkers) {
            int begin = text.indexOf(FINAL_BEGIN);
            if (begin >= 0) {
                int from = begin + FINAL_BEGIN.length();
                int end = text.indexOf(FINAL_END, from);
                String answer = end < 0 ? text.substring(from) : text.substring(from, end);
                return new Split(text.substring(0, begin).strip(), answer.strip());
            }
        }
        for (Span s : spans) {
            int close = text.indexOf(s.close());
            if (close >= 0) {
                String thinking = text.substring(0, close);
                int open = thinking.indexOf(s.open());
                if (open >= 0 && thinking.substring(0, open).isBlank()) {
                    thinking = thinking.substring(open + s.open().length());
                }
                return new Split(thinking.strip(), text.substring(close + s.close().length()).strip());
            }
        }
        for (Span s : spans) {
            int open = text.indexOf(s.open());
            if (open >= 0 && text.substring(0, open).isBlank()) {
                return new Split(text.substring(open + s.open().length()).strip(), "");
            }
        }
        return insideThinking && !spans.isEmpty() ? new Split(text.strip(), "") : new Split("", text);
    }

    @Override
    public String toString() {
        List<String> names = new ArrayList<>();
        spans.forEach(s -> names.add(s.open() + "..." + s.close()));
        if (finalResponseMarkers) {
            names.add(FINAL_BEGIN + "..." + FINAL_END);
        }
        return "Reasoning" + names;
    }
}
