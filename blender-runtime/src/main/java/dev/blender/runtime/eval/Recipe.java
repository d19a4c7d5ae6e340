package dev.blender.runtime.eval;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.blender.genfuser.FuserTemplate;
import dev.blender.pairranker.judge.JudgeTemplate;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * What {@code blender eval} runs: the member models, an optional judge and fuser with their prompt
 * templates, how a problem becomes a prompt, and how answers are checked. A JSON file (see
 * {@code arith.recipe.json} in this package for the built-in one); model paths are relative to the
 * recipe's folder unless absolute.
 *
 * @param name         shown in the output
 * @param members      the answering models (at least one; per-token mixing needs two)
 * @param judge        pairwise judge for the rank:* and fuse:top3 rows, or null
 * @param fuser        fuser for the fuse:* rows, or null
 * @param answerPrompt a member's prompt, with {@code {question}}
 * @param instruction  what the judge and fuser see as the instruction, with {@code {question}}
 * @param maxTokens    most tokens of an answer
 * @param contextSize  context per member sequence (0 = the model's own)
 * @param checker      exact, gsm8k or nq-open ({@link AnswerChecker#named})
 */
public record Recipe(String name, List<Member> members, JudgeSpec judge, FuserSpec fuser, String answerPrompt,
                     String instruction, int maxTokens, int contextSize, String checker) {

    /** A member model. */
    public record Member(String name, String path) {
        public Member {
            Objects.requireNonNull(name, "member name");
            Objects.requireNonNull(path, "member path");
        }
    }

    /** The judge's model and {@link JudgeTemplate}. */
    public record JudgeSpec(String path, String prompt, String rationaleStop, List<String> verdicts,
                            int maxRationaleTokens) {
        public JudgeTemplate template() {
            if (verdicts == null || verdicts.size() != 2) {
                throw new IllegalArgumentException("judge.verdicts must list two continuations, e.g. [\" A\", \" B\"]");
            }
            return new JudgeTemplate(prompt, rationaleStop, verdicts.get(0), verdicts.get(1), maxRationaleTokens);
        }
    }

    /** The fuser's model and {@link FuserTemplate}. */
    public record FuserSpec(String path, String prompt, String candidateFormat, String separator, int candidates,
                            int maxCandidateTokens) {
        public FuserTemplate template() {
            return new FuserTemplate(prompt, candidateFormat, separator == null ? " " : separator, candidates,
                    maxCandidateTokens, false);
        }
    }

    public Recipe {
        if (members == null || members.isEmpty()) {
            throw new IllegalArgumentException("a recipe needs at least one member model");
        }
        members = List.copyOf(members);
        if (answerPrompt == null || !answerPrompt.contains("{question}")) {
            throw new IllegalArgumentException("answerPrompt must contain {question}, was " + answerPrompt);
        }
        instruction = instruction == null ? "{question}" : instruction;
        checker = checker == null ? "exact" : checker;
        AnswerChecker.named(checker);
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, was " + maxTokens);
        }
        if (contextSize < 0) {
            throw new IllegalArgumentException("contextSize must be >= 0, was " + contextSize);
        }
        if (judge != null) {
            judge.template();
        }
        if (fuser != null) {
            fuser.template();
        }
    }

    /** The built-in recipe of that name (only "arith"). */
    public static Recipe builtIn(String name) {
        if (!name.equals("arith")) {
            throw new IllegalArgumentException("no built-in recipe '" + name + "' (built in: arith; or pass a .json file)");
        }
        try (InputStream in = Recipe.class.getResourceAsStream("arith.recipe.json")) {
            return mapper().readValue(in, Recipe.class);
        } catch (IOException e) {
            throw new IllegalStateException("the built-in arith recipe cannot be read", e);
        }
    }

    /** A recipe file; errors name the file and what is wrong. */
    public static Recipe load(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("recipe file " + file + " does not exist");
        }
        try {
            return mapper().readValue(file.toFile(), Recipe.class);
        } catch (IOException e) {
            Throwable cause = e.getCause() instanceof IllegalArgumentException iae ? iae : e;
            String why = cause instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage()
                    : cause.getMessage();
            throw new IllegalArgumentException("recipe " + file + ": " + why);
        }
    }

    private static ObjectMapper mapper() {
        return new ObjectMapper().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    }

    public AnswerChecker answerChecker() {
        return AnswerChecker.named(checker);
    }

    public String prompt(Problem p) {
        return answerPrompt.replace("{question}", p.question());
    }

    public String instructionFor(Problem p) {
        return instruction.replace("{question}", p.question());
    }

    /** A model path of this recipe, resolved against {@code base}. */
    public static Path resolve(Path base, String path) {
        Path p = Path.of(path);
        return p.isAbsolute() ? p : base.resolve(p);
    }
}
