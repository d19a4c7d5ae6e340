package dev.blender.runtime.cli;

import dev.blender.runtime.eval.AnswerChecker;
import dev.blender.runtime.eval.Problem;
import dev.blender.runtime.eval.Recipe;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The flags that choose a recipe's models, problems and checker, shared by {@code eval} and {@code tune} so both
 * read a problem set the same way ({@code --recipe} stays with each command: their defaults differ).
 */
final class ProblemFlags {
    @Option(names = "--models", paramLabel = "DIR",
            description = "folder the recipe's model paths are relative to (default: the recipe file's folder;"
                    + " shared/models/arith for a built-in recipe)")
    Path modelDir;

    @Option(names = "--problems", paramLabel = "JSONL", description = "{question, answer} lines (default for a"
            + " built-in recipe: shared/data/arith/dev.jsonl)")
    Path problems;

    @Option(names = "--checker", description = "override the recipe's answer checker: exact, gsm8k, nq-open, regex:PATTERN")
    String checkerName;

    @Option(names = "--limit", defaultValue = "500", description = "problems (default: ${DEFAULT-VALUE})")
    int limit;

    @Option(names = "--skip", defaultValue = "0",
            description = "problems skipped first, e.g. to report the half of a file not used to choose (default: 0)")
    int skip;

    Recipe recipe(String recipeName) {
        return Recipe.open(recipeName, modelDir);
    }

    Path file(String recipeName) {
        return Recipe.problemsFile(recipeName, problems);
    }

    AnswerChecker checker(Recipe recipe) {
        return checkerName != null ? Flag.read("--checker", () -> AnswerChecker.named(checkerName))
                : recipe.answerChecker();
    }

    List<Problem> read(String recipeName) {
        return Problem.readJsonl(file(recipeName), skip, limit);
    }
}
