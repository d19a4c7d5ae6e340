package dev.blender.runtime.cli;

import dev.blender.nativebridge.CacheDir;
import dev.blender.runtime.pipeline.Cancellation;
import dev.blender.runtime.pipeline.BlendRequest;
import dev.blender.runtime.pipeline.BlendResult;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.Completion;
import dev.blender.runtime.pipeline.Composition;
import dev.blender.runtime.pipeline.CompositionJson;
import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.stream.Collectors;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.reader.impl.DefaultParser;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import org.jline.terminal.impl.DumbTerminal;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code blender chat}: a REPL that blends each line typed and streams the answer, with commands to see
 * what was sampled and ranked for the last answer and what it took. On a terminal it has line editing and
 * a history file; with piped input it reads plain lines through a dumb terminal.
 */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = {"An interactive session: each line is blended and the answer streamed.",
            "Commands: /candidates /stats /strategy NAME /help /quit (or Ctrl-D)."})
final class ChatCommand implements Callable<Integer> {
    static final String PROMPT = "blend> ";

    @Mixin
    BlenderOptions blender;

    /** The blend's flags, with prefix reuse on unless asked off: a conversation's history starts its next prompt. */
    BlenderOptions blenderOptions() {
        blender.prefixReuseByDefault = true;
        return blender;
    }

    @Option(names = "--seed", defaultValue = "1", description = "sampling seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--history", paramLabel = "FILE",
            description = "history file (default: chat_history in blender's cache folder: -Dblender.cache.dir,"
                    + " else $XDG_CACHE_HOME/blender, else ~/.cache/blender)")
    Path history;

    private Composition strategy;
    private BlendResult last;
    private int requests;
    private double totalMillis;
    private volatile Cancellation running;

    @Override
    public Integer call() throws IOException {
        try (Blender b = blenderOptions().open(System.err); Terminal terminal = terminal()) {
            strategy = b.config().composition();
            LineReader reader = reader(terminal);
            PrintWriter out = terminal.writer();
            // Ctrl-C while a blend runs stops that blend, not the session
            terminal.handle(Terminal.Signal.INT, s -> {
                Cancellation c = running;
                if (c != null) {
                    c.cancel();
                }
            });
            out.println("blender chat: " + describe(b.config()) + "; strategy " + strategy.name()
                    + ". /help for commands, /quit or Ctrl-D to leave.");
            out.flush();
            while (true) {
                String line;
                try {
                    line = reader.readLine(PROMPT);
                } catch (UserInterruptException e) {
                    out.println("(use /quit or Ctrl-D to leave)");
                    out.flush();
                    continue;
                } catch (EndOfFileException e) {
                    out.println(); // Ctrl-D leaves the cursor after the prompt
                    break;
                }
                String text = line.strip();
                if (text.isEmpty()) {
                    continue;
                }
                // only a '/' in the first column is a command, so " /etc/hosts?" can still be asked
                if (line.startsWith("/")) {
                    if (!command(text, b.config(), out)) {
                        break;
                    }
                } else {
                    answer(b, text, out);
                }
                out.flush();
            }
            out.flush();
            return 0;
        }
    }

    /** A system terminal when both ends are a console; otherwise a dumb one over System.in/out. */
    private static Terminal terminal() throws IOException {
        java.io.Console console = System.console();
        if (console != null && console.isTerminal()) {
            return TerminalBuilder.builder().system(true).dumb(true).build();
        }
        // closing the terminal must not close the process's own streams (tests reuse them)
        InputStream in = new FilterInputStream(System.in) {
            @Override
            public void close() {}
        };
        OutputStream out = new FilterOutputStream(System.out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                super.out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                flush();
            }
        };
        // a DumbTerminal directly: TerminalBuilder given streams would open a pty and echo the input back
        return new DumbTerminal("blender", Terminal.TYPE_DUMB, in, out, StandardCharsets.UTF_8);
    }

    private LineReader reader(Terminal terminal) {
        // prompts are prose: quotes, backslashes and '!' must reach the model as typed
        DefaultParser parser = new DefaultParser();
        parser.setEscapeChars(new char[0]);
        parser.setQuoteChars(new char[0]);
        LineReaderBuilder builder = LineReaderBuilder.builder().appName("blender").terminal(terminal).parser(parser)
                .option(LineReader.Option.DISABLE_EVENT_EXPANSION, true)
                .option(LineReader.Option.HISTORY_IGNORE_SPACE, false);
        Path file = historyFile();
        if (file != null) {
            builder.variable(LineReader.HISTORY_FILE, file);
        }
        return builder.build();
    }

    /** The history file, its folder created; null (no history file) when that is not possible. */
    private Path historyFile() {
        Path file = history != null ? history : CacheDir.root().resolve("chat_history");
        try {
            Path dir = file.toAbsolutePath().getParent();
            if (dir != null) {
                Files.createDirectories(dir);
            }
            if (!Files.exists(file)) {
                Files.createFile(file);
            }
            if (!Files.isWritable(file)) {
                throw new IOException("not writable");
            }
            return file;
        } catch (IOException | RuntimeException e) {
            System.err.println("blender: no chat history (" + file + ": " + e.getMessage() + ")");
            return null;
        }
    }

    /** Runs a /command; false to end the session. */
    private boolean command(String line, BlenderConfig config, PrintWriter out) {
        String[] parts = line.split("\\s+", 2);
        String arg = parts.length > 1 ? parts[1].strip() : "";
        switch (parts[0].toLowerCase(Locale.ROOT)) {
            case "/quit", "/exit" -> {
                return false;
            }
            case "/help" -> help(out);
            case "/candidates" -> candidates(out);
            case "/stats" -> stats(out);
            case "/strategy" -> switchStrategy(arg, config, out);
            default -> out.println("unknown command " + parts[0] + "; try /help (to send a line starting with '/',"
                    + " start it with a space)");
        }
        return true;
    }

    private static void help(PrintWriter out) {
        out.println("Type a prompt to blend it; the answer streams as it is produced. Commands:");
        out.println("  /candidates      what was sampled for the last answer (by model) and how it was ranked");
        out.println("  /stats           per-stage timings of the last answer and running totals");
        out.println("  /strategy NAME   switch strategy: " + strategies());
        out.println("  /help            this list");
        out.println("  /quit            leave (Ctrl-D too)");
    }

    private void answer(Blender b, String prompt, PrintWriter out) {
        Cancellation cancel = new Cancellation();
        running = cancel;
        RunCommand.AnswerStream stream = new RunCommand.AnswerStream(out);
        try {
            BlendResult r = b.blend(BlendRequest.builder().prompt(prompt).composition(strategy).seed(seed)
                    .cancellation(cancel).build(), stream);
            out.println();
            last = r;
            requests++;
            totalMillis += r.timings().totalMillis();
        } catch (CancellationException e) {
            out.println();
            out.println("(cancelled)");
        } catch (RuntimeException e) {
            // a failed request (e.g. a prompt too long for the context) must not end the session
            out.println();
            out.println("blender: " + e.getMessage());
        } finally {
            running = null;
        }
    }

    private void candidates(PrintWriter out) {
        if (last == null) {
            out.println("nothing answered yet");
            return;
        }
        if (last.candidates().isEmpty()) {
            out.println(last.strategy() + " samples no candidates: the models' next-token distributions were"
                    + " mixed at every step; answer: " + last.answer());
            return;
        }
        out.println("candidates (" + last.candidates().size() + "):");
        Map<String, List<BlendResult.Sampled>> byModel = last.candidates().stream()
                .collect(Collectors.groupingBy(BlendResult.Sampled::model, LinkedHashMap::new, Collectors.toList()));
        for (Map.Entry<String, List<BlendResult.Sampled>> e : byModel.entrySet()) {
            out.println("  " + e.getKey() + ":");
            for (BlendResult.Sampled s : e.getValue()) {
                Completion c = s.candidate();
                out.printf(Locale.ROOT, "    %-16s mean logprob %7.3f, %d tokens%n", quote(c.text().strip()),
                        c.meanLogProb(), c.tokenCount());
            }
        }
        out.println("candidates in the blend's order (" + last.orderedBy() + "):");
        for (int pos = 0; pos < last.ranked().size(); pos++) {
            BlendResult.Ranked x = last.ranked().get(pos);
            out.printf(Locale.ROOT, "  %d. %-16s x%d%s%n", pos + 1, quote(x.text()), x.votes(),
                    x.score() == null ? "" : String.format(Locale.ROOT, "  score %8.3f", x.score()));
        }
        out.println(last.fused() != null ? "fused answer: " + last.fused().text().strip()
                : "answer (no fusion): " + last.answer());
    }

    private void stats(PrintWriter out) {
        if (last == null) {
            out.println("nothing answered yet");
            return;
        }
        BlendResult.Timings t = last.timings();
        out.printf(Locale.ROOT, "last (%s): sampling %.1f ms, ranking %.1f ms, fusion %.1f ms, first token %s,"
                + " total %.1f ms%n", last.strategy(), t.samplingMillis(), t.rankingMillis(), t.fusionMillis(),
                t.firstTokenMillis() < 0 ? "-" : String.format(Locale.ROOT, "%.1f ms", t.firstTokenMillis()),
                t.totalMillis());
        out.printf(Locale.ROOT, "session: %d requests, mean total %.1f ms%n", requests, totalMillis / requests);
    }

    private void switchStrategy(String name, BlenderConfig config, PrintWriter out) {
        if (name.isEmpty()) {
            out.println("strategy " + strategy + " (choose from " + strategies() + ", or a composition in JSON)");
            return;
        }
        Composition s;
        try {
            s = CompositionJson.parse(name);
        } catch (IllegalArgumentException e) {
            out.println(e.getMessage());
            return;
        }
        if (!config.supports(s)) {
            out.println("strategy " + s.name() + " needs generators this blender lacks; still " + strategy.name());
            return;
        }
        strategy = s;
        out.println("strategy " + s.name());
    }

    private static String strategies() {
        return String.join(", ", Composition.names());
    }

    private static String describe(BlenderConfig c) {
        return c.generators().size() + (c.generators().size() == 1 ? " generator" : " generators")
                + (c.judge() != null ? ", judge " + c.judge().getFileName() : "")
                + (c.fuser() != null ? ", fuser " + c.fuser().getFileName() : "");
    }

    private static String quote(String s) {
        return '"' + s + '"';
    }
}
