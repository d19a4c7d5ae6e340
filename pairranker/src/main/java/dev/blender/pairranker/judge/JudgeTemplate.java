package dev.blender.pairranker.judge;

import java.util.Objects;

/**
 * How an LM judge is asked: a prompt with {@code {instruction}}, {@code {first}} and {@code {second}}
 * placeholders, an optional rationale the judge writes before its verdict (generated greedily until its
 * text ends with {@code rationaleStop}), and the two verdict continuations whose first differing tokens
 * are compared.
 *
 * @param prompt             the cross-encoder input; all three placeholders must appear
 * @param rationaleStop      text that ends the rationale, or null for a judge that answers at once
 * @param verdictFirst       continuation meaning "the first candidate is better", e.g. {@code " X"}
 * @param verdictSecond      continuation meaning "the second is better", e.g. {@code " Y"}
 * @param maxRationaleTokens rationale budget; a judge that has not reached the stop by then is given it
 * @param useChatTemplate    the prompt is the user's turn of the judge's own chat template, and the verdict
 *                           (or rationale) starts the assistant's answer; for a judge whose model has no
 *                           chat template the prompt is read as it is
 */
public record JudgeTemplate(String prompt, String rationaleStop, String verdictFirst, String verdictSecond,
                            int maxRationaleTokens, boolean useChatTemplate) {

    public JudgeTemplate {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(verdictFirst, "verdictFirst");
        Objects.requireNonNull(verdictSecond, "verdictSecond");
        for (String placeholder : new String[] {"{instruction}", "{first}", "{second}"}) {
            if (!prompt.contains(placeholder)) {
                throw new IllegalArgumentException("prompt template lacks " + placeholder + ": " + prompt);
            }
        }
        if (verdictFirst.isEmpty() || verdictSecond.isEmpty() || verdictFirst.equals(verdictSecond)) {
            throw new IllegalArgumentException("verdicts must be two different non-empty texts, got '" + verdictFirst
                    + "' and '" + verdictSecond + "'");
        }
        if (rationaleStop != null && rationaleStop.isEmpty()) {
            throw new IllegalArgumentException("rationaleStop must be null (no rationale) or non-empty");
        }
        if (maxRationaleTokens < 0) {
            throw new IllegalArgumentException("maxRationaleTokens must be >= 0, was " + maxRationaleTokens);
        }
    }

    /** A template that reads the prompt as it is (no chat template). */
    public JudgeTemplate(String prompt, String rationaleStop, String verdictFirst, String verdictSecond,
                         int maxRationaleTokens) {
        this(prompt, rationaleStop, verdictFirst, verdictSecond, maxRationaleTokens, false);
    }

    /** The built-in templates' names, for configuration files and flags. */
    public static final java.util.List<String> NAMES = java.util.List.of("instruct", "ab", "arith");

    /**
     * A built-in template by name: {@code instruct} ({@link #instruct()}), {@code ab} ({@link #abAnswer()}) or
     * {@code arith} ({@link #arith()}).
     *
     * @throws IllegalArgumentException another name; the message lists these
     */
    public static JudgeTemplate named(String name) {
        return switch (name.strip().toLowerCase(java.util.Locale.ROOT)) {
            case "instruct" -> instruct();
            case "ab" -> abAnswer();
            case "arith" -> arith();
            default -> throw new IllegalArgumentException("unknown judge template '" + name + "' (built in: "
                    + String.join(", ", NAMES) + ")");
        };
    }

    /** The arith judge of shared/models/arith: works the sum out, then "Better: X" or "Better: Y". */
    public static JudgeTemplate arith() {
        return new JudgeTemplate("Q: {instruction} X: {first} Y: {second} Result:", "Better:", " X", " Y", 12);
    }

    /**
     * The default for a judge whose model has a chat template: for an instruction-tuned model, the comparison
     * is the user's turn and the assistant's answer starts with the letter of the better response.
     */
    public static JudgeTemplate instruct() {
        return new JudgeTemplate("Which response follows the instruction better?\n\n"
                + "Instruction:\n{instruction}\n\nResponse A:\n{first}\n\nResponse B:\n{second}\n\n"
                + "Answer with the letter of the better response, A or B, and nothing else.", null, "A", "B", 0, true);
    }

    /**
     * The default for a judge of the given kind: {@link #instruct()} for a model with a chat template, else
     * {@link #abAnswer()}, a completion prompt for a base model.
     */
    public static JudgeTemplate defaultFor(boolean modelHasChatTemplate) {
        return modelHasChatTemplate ? instruct() : abAnswer();
    }

    /** A general instruction-following judge that answers "A" or "B" at once, as a completion. */
    public static JudgeTemplate abAnswer() {
        return new JudgeTemplate("Instruction: {instruction}\nResponse A: {first}\nResponse B: {second}\n"
                + "Which response follows the instruction better? Answer A or B.\nAnswer:", null, " A", " B", 0);
    }

    /** The judge's prompt for one ordered pair (what a remote judge sends as text). */
    public String render(String instruction, String first, String second) {
        return prompt.replace("{instruction}", instruction).replace("{first}", first).replace("{second}", second);
    }
}
