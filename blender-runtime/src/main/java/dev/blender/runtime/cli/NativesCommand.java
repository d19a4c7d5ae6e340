package dev.blender.runtime.cli;

import dev.blender.nativebridge.natives.Installation;
import dev.blender.nativebridge.natives.NativesInstaller;
import dev.blender.nativebridge.natives.Variant;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code blender natives}: prebuilt llama.cpp libraries, installed without a compiler. */
@Command(name = "natives", mixinStandardHelpOptions = true, subcommands = NativesCommand.Install.class,
        description = {"Prebuilt llama.cpp libraries (v0.5.0, as node-llama-cpp " + NativesInstaller.VERSION
            + " ships them on npm), installed without a compiler.", "See: blender natives install --help"})
final class NativesCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a subcommand: install");
    }

    @Command(name = "install", mixinStandardHelpOptions = true, modelTransformer = Install.ListVariants.class,
            description = {"Downloads a prebuilt llama.cpp (v0.5.0) with npm, checks its SHA-512 against "
                    + "the npm registry and a value pinned in blender, and unpacks only its libraries.",
                "Prints the folder as the last line of stdout, for scripts; then run blender with "
                    + "BLENDER_LLAMA_LIBRARY=$dir (or java -Dblender.llama.library=$dir):",
                "  dir=$(./blender natives install cpu | tail -1)",
                "A complete install is reused without downloading. Without npm, the error "
                    + "lists the manual steps (curl, sha512 check, tar).", ""})
    static final class Install implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "VARIANT", converter = VariantConverter.class,
                completionCandidates = VariantNames.class, description = "one of ${COMPLETION-CANDIDATES} (below)")
        Variant variant;

        @Option(names = "--dir", paramLabel = "DIR",
                description = "install here (absent or empty) instead of the per-user cache (below)")
        Path dir;

        @Option(names = "--npm", paramLabel = "EXE", description = "the npm to run (default: -Dblender.npm, else npm on the PATH)")
        String npm;

        @Override
        public Integer call() {
            PrintStream err = System.err;
            Steps steps = new Steps(err, stderrIsTerminal());
            Installation inst;
            try {
                NativesInstaller installer = new NativesInstaller(npm, steps);
                inst = dir == null ? installer.install(variant) : installer.install(variant, dir);
            } finally {
                steps.finish();
            }
            err.println((inst.reused() ? "the " + variant.id() + " natives are already installed in "
                    : "installed the " + variant.id() + " natives (llama.cpp v0.5.0) in ") + inst.dir());
            err.println("use them: export BLENDER_LLAMA_LIBRARY=" + inst.dir() + "   (or java -Dblender.llama.library="
                    + inst.dir() + ")");
            System.out.println(inst.dir());
            return 0;
        }

        /** Lists every variant with what it runs on under the usage message. */
        static final class ListVariants implements CommandLine.IModelTransformer {
            @Override
            public CommandSpec transform(CommandSpec spec) {
                String rows = Arrays.stream(Variant.values())
                        .map(v -> String.format(Locale.ROOT, "  %-7s %s", v.id(), v.description()))
                        .collect(Collectors.joining("%n"));
                spec.usageMessage().footer("%nVariants:%n" + rows + "%n%nWithout --dir the files go to <cache>/natives/"
                        + "<variant>-" + NativesInstaller.VERSION + ", where <cache> is%n-Dblender.cache.dir, else "
                        + "$XDG_CACHE_HOME/blender, else ~/.cache/blender.");
                return spec;
            }
        }
    }

    static final class VariantConverter implements CommandLine.ITypeConverter<Variant> {
        @Override
        public Variant convert(String value) {
            try {
                return Variant.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    static final class VariantNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Arrays.stream(Variant.values()).map(Variant::id).iterator();
        }
    }

    /** Whether stderr is a terminal (Linux: fd 2 is a tty), so progress may be redrawn in place. */
    static boolean stderrIsTerminal() {
        if ("dumb".equals(System.getenv("TERM"))) {
            return false;
        }
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (Exception e) {
            return false;
        }
    }

    /**
     * Prints the installer's steps on stderr: one line each; on a terminal the line also shows the time npm has
     * been working, or how much is unpacked, redrawn in place at most ten times a second.
     */
    static final class Steps implements NativesInstaller.Listener {
        private final PrintStream err;
        private final boolean interactive;
        private String current;
        private long stepStart;
        private long lastDraw;
        private String lastStatus;

        Steps(PrintStream err, boolean interactive) {
            this.err = err;
            this.interactive = interactive;
        }

        @Override
        public void step(String what) {
            finish();
            current = what;
            lastStatus = null;
            stepStart = System.nanoTime();
            if (interactive) {
                err.print(what + " ...");
                err.flush();
            } else {
                err.println(what + " ...");
            }
        }

        @Override
        public void progress(long done, long total) {
            long now = System.nanoTime();
            if (!interactive || current == null || (now - lastDraw < 100_000_000L && done != total)) {
                return;
            }
            String status = done < 0 ? String.format(Locale.ROOT, "%d s", (now - stepStart) / 1_000_000_000L)
                    : String.format(Locale.ROOT, "%d%%", total <= 0 ? 100 : 100 * done / total);
            if (!status.equals(lastStatus)) {
                lastDraw = now;
                lastStatus = status;
                err.print("\r" + current + " ... " + status + "   ");
                err.flush();
            }
        }

        void finish() {
            if (interactive && current != null) {
                err.println();
            }
            current = null;
        }
    }
}
