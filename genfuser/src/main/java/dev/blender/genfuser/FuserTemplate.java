package dev.blender.genfuser;

import java.util.List;
import java.util.Objects;

/**
 * How the fuser is asked: a prompt with {@code {instruction}} and {@code {candidates}}, each candidate
 * rendered with {@code candidateFormat} ({@code {n}} is its 1-based number, {@code {i}} its 0-based
 * index, {@code {candidate}} its text) and joined with {@code separator}.
 *
 * @param prompt             the whole prompt
 * @param candidateFormat    one candidate
 * @param separator          between candidates
 * @param candidates         how many candidates the fuser takes (K)
 * @param maxCandidateTokens each candidate is cut to this many tokens (LLM-Blender uses 128)
 * @param useChatTemplate    wrap the prompt as a user message in the model's chat template, if it has one
 */
public record FuserTemplate(String prompt, String candidateFormat, String separator, int candidates,
                            int maxCandidateTokens, boolean useChatTemplate) {

    public FuserTemplate {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(candidateFormat, "candidateFormat");
        Objects.requireNonNull(separator, "separator");
        if (!prompt.contains("{candidates}")) {
            throw new IllegalArgumentException("prompt template lacks {candidates}: " + prompt);
        }
        if (!candidateFormat.contains("{candidate}")) {
            throw new IllegalArgumentException("candidateFormat lacks {candidate}: " + candidateFormat);
        }
        if (candidates < 1) {
            throw new IllegalArgumentException("candidates must be >= 1, was " + candidates);
        }
        if (maxCandidateTokens < 1) {
            throw new IllegalArgumentException("maxCandidateTokens must be >= 1, was " + maxCandidateTokens);
        }
    }

    /** LLM-Blender's GenFuser input: the instruction, K=3 numbered candidates, "summarize into a better one". */
    public static FuserTemplate llmBlender() {
        return new FuserTemplate("Instruction: {instruction}\nInput: \n{candidates}\n"
                + "Summarize candidates into a better one for the given instruction:", "Candidate {i}: {candidate}", "\n",
                3, 128, true);
    }

    /** A Mixture-of-Agents style aggregator prompt for an instruction-tuned model. */
    public static FuserTemplate aggregator() {
        return new FuserTemplate("Several assistants answered the query below. Some answers may be wrong or"
                + " incomplete. Weigh them critically and write one answer that is better than each of them.\n\n"
                + "Answers:\n{candidates}\n\nQuery: {instruction}\n\nYour answer:", "{n}. {candidate}", "\n", 3, 128,
                true);
    }

    /**
     * The default for a fuser of the given kind: {@link #aggregator()}, an instruction in the model's own chat
     * format, for a model with a chat template; else {@link #llmBlender()}, the prompt LLM-Blender's fuser was
     * trained on.
     */
    public static FuserTemplate defaultFor(boolean modelHasChatTemplate) {
        return modelHasChatTemplate ? aggregator() : llmBlender();
    }

    /** The built-in templates' names, for configuration files and flags. */
    public static final java.util.List<String> NAMES = java.util.List.of("llm-blender", "aggregator", "arith");

    /**
     * A built-in template by name: {@code llm-blender} ({@link #llmBlender()}), {@code aggregator}
     * ({@link #aggregator()}) or {@code arith} ({@link #arith()}).
     *
     * @throws IllegalArgumentException another name; the message lists these
     */
    public static FuserTemplate named(String name) {
        return switch (name.strip().toLowerCase(java.util.Locale.ROOT)) {
            case "llm-blender" -> llmBlender();
            case "aggregator" -> aggregator();
            case "arith" -> arith();
            default -> throw new IllegalArgumentException("unknown fuser template '" + name + "' (built in: "
                    + String.join(", ", NAMES) + ")");
        };
    }

    /** The arith fuser of shared/models/arith: {@code Q: 37+48= C1: 85 C2: 75 C3: 84 Fused:}. */
    public static FuserTemplate arith() {
        return new FuserTemplate("Q: {instruction} {candidates} Fused:", "C{n}: {candidate}", " ", 3, 8, false);
    }

    /** The fusion prompt for these candidates, already cut to size (what a remote fuser sends as text). */
    public String render(String instruction, List<String> texts) {
        StringBuilder block = new StringBuilder();
        for (int i = 0; i < texts.size(); i++) {
            if (i > 0) {
                block.append(separator);
            }
            block.append(candidateFormat.replace("{n}", String.valueOf(i + 1)).replace("{i}", String.valueOf(i))
                    .replace("{candidate}", texts.get(i)));
        }
        return prompt.replace("{instruction}", instruction).replace("{candidates}", block);
    }
}
