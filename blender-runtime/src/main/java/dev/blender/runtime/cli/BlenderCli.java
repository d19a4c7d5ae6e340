package dev.blender.runtime.cli;

import dev.blender.runtime.Names;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions.Adaptation;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code blender} command line. */
@Command(name = "blender", mixinStandardHelpOptions = true, version = "blender 0.1.0 (llama.cpp b4916 bundled; v0.5.0 with `blender natives install`)",
        description = "Several local GGUF models acting as one: per-token mixing, ranking and fusion.",
        subcommands = {RunCommand.class, ChatCommand.class, ServeCommand.class, BlendCommand.class, EvalCommand.class, TuneCommand.class, BenchCommand.class, MergeCommand.class, LoraCommand.class,
            PerplexityCommand.class, InspectCommand.class, TemplateCommand.class, DoctorCommand.class, NativesCommand.class,
            CommandLine.HelpCommand.class})
public final class BlenderCli {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (for tests and embedding). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new BlenderCli());
        cli.registerConverter(dev.blender.runtime.pipeline.Strategy.class, dev.blender.runtime.pipeline.Strategy::parse);
        cli.registerConverter(Adaptation.class, s -> Names.constant(Adaptation.class, s, "adaptation"));
        cli.registerConverter(CombineMethod.class, s -> Names.constant(CombineMethod.class, s, "method"));
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            // a user error (bad file, bad option value, unusable library) is a message, not a stack trace;
            // an IllegalStateException (use after close) is a bug in blender and keeps its trace
            if (e instanceof IllegalArgumentException || e instanceof dev.blender.nativebridge.LlamaException
                    || e instanceof dev.blender.nativebridge.chat.ChatTemplateException
                    || e instanceof java.io.UncheckedIOException || e instanceof java.io.IOException) {
                Progress.endOpenLine(System.err);
                cmd.getErr().println("blender: " + (e instanceof java.nio.file.NoSuchFileException
                        ? "no such file: " + e.getMessage() : e.getMessage()));
                return 2;
            }
            // a server that did not answer (or answered without what was asked) is the server's failure, not
            // blender's: its member and reason on one line, wherever in the run it was raised
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof dev.blender.runtime.remote.RemoteException r) {
                    Progress.endOpenLine(System.err);
                    cmd.getErr().println("blender: " + r.getMessage());
                    return 1;
                }
            }
            throw e;
        });
        return cli.execute(args);
    }
}
