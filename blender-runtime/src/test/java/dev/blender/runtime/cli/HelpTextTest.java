package dev.blender.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every command's {@code --help} reads as wrapped paragraphs. Picocli starts a new line for each element
 * of a description array and wraps each at the usage width, so a sentence split over two elements of the
 * source shows as a short line followed by its continuation ("...models of a realistic" / "shape (generated
 * ..."). Such a continuation is found as a line whose first word would have fitted on the line before.
 */
class HelpTextTest {
    private static final java.util.regex.Pattern OPTION_ALONE = java.util.regex.Pattern.compile("-\\S+(, -\\S+)?");
    private static final java.util.regex.Pattern COMMAND_ENTRY = java.util.regex.Pattern.compile("^ +[a-z][\\w-]* {2,}\\S");

    @Test
    void everyCommandsHelpIsWrappedAsParagraphs() {
        List<String> ragged = new ArrayList<>();
        List<CommandLine> commands = new ArrayList<>();
        collect(new CommandLine(new BlenderCli()), commands);
        assertTrue(commands.size() > 10, "the root and its subcommands");
        for (CommandLine command : commands) {
            int width = command.getCommandSpec().usageMessage().width();
            String[] lines = command.getUsageMessage(CommandLine.Help.Ansi.OFF).split("\n");
            for (int i = 1; i < lines.length; i++) {
                String before = lines[i - 1].stripTrailing();
                String line = lines[i];
                String text = line.strip();
                if (before.isBlank() || text.isEmpty() || !Character.isLowerCase(text.charAt(0))
                        || before.endsWith(":") || OPTION_ALONE.matcher(before.strip()).matches()
                        || COMMAND_ENTRY.matcher(line).find()) {
                    continue; // a new paragraph, a list after a colon, a description below a long option
                              // name, an entry of a list of terms (commands, methods)
                }
                String firstWord = text.split("\\s+", 2)[0];
                // picocli keeps a few columns free at the right edge, so only a clear gap counts
                if (before.length() + 1 + firstWord.length() <= width - 4) {
                    ragged.add(command.getCommandName() + ": \"" + before.strip() + "\" / \"" + text + "\"");
                }
            }
        }
        assertEquals(List.of(), ragged, ragged.size() + " help lines broken before the usage width");
    }

    private static void collect(CommandLine command, List<CommandLine> into) {
        into.add(command);
        command.getSubcommands().values().stream().distinct().forEach(c -> collect(c, into));
    }
}
