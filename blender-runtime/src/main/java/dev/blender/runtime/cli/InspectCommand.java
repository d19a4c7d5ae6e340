package dev.blender.runtime.cli;

import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.Vocab;
import dev.blender.nativebridge.VocabCompatibility;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufValue;
import dev.blender.nativebridge.gguf.TensorInfo;
import dev.blender.runtime.combine.VocabAlignment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code blender inspect}: GGUF metadata of files and whether their vocabularies are compatible. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Shows the GGUF header of each file (validated in Java, nothing native runs on a bad file) "
                + "and, for two or more files, whether their vocabularies can be mixed token by token; with "
                + "--probe-load each file is also loaded, and one token decoded, in a child JVM."})
final class InspectCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "FILE", description = "GGUF model files")
    List<Path> files;

    @Option(names = "--tensors", description = "also list every tensor")
    boolean tensors;

    @Mixin
    ProbeFlags probe = new ProbeFlags();

    @Override
    public Integer call() {
        for (Path f : files) {
            GgufFile g = GgufFile.read(f);
            System.out.printf("%s: GGUF v%d, %d tensors, %d metadata keys, %,d bytes%n", f, g.version(),
                    g.tensors().size(), g.metadata().size(), g.fileSize());
            for (Map.Entry<String, GgufValue> e : g.metadata().entrySet()) {
                System.out.printf("  %-44s %s%n", e.getKey(), abbreviate(e.getValue().toString()));
            }
            if (tensors) {
                for (TensorInfo t : g.tensors()) {
                    System.out.printf("  %-44s %-6s %s%n", t.name(), t.type(), java.util.Arrays.toString(t.dims()));
                }
            }
            if (probe.probeLoad) {
                LlamaModel.check(f, probe.apply(ModelOptions.defaults()));
                System.out.printf("  probe-load: loaded and decoded one token in a child JVM (llama.cpp %s)%n",
                        LlamaBackend.version());
            }
        }
        if (files.size() > 1) {
            // each file was probed whole above, which covers loading its vocabulary alone
            ModelOptions vocabulary = ModelOptions.defaults().withVocabOnly(true);
            try (LlamaModel first = LlamaModel.load(files.get(0), vocabulary)) {
                for (Path other : files.subList(1, files.size())) {
                    try (LlamaModel m = LlamaModel.load(other, vocabulary)) {
                        System.out.printf("vocabulary %s vs %s: %s%n", files.get(0).getFileName(), other.getFileName(),
                                VocabCompatibility.check(first.vocab(), m.vocab()).explain());
                        System.out.println("  " + mixVerdict(first.vocab(), m.vocab()));
                    }
                }
            }
        }
        return 0;
    }

    /** Whether and how the two can be mixed token by token, as the combine path would decide it. */
    private static String mixVerdict(Vocab a, Vocab b) {
        try {
            VocabAlignment al = VocabAlignment.of(List.of(a, b), VocabAlignment.Policy.ALIGN_BY_TEXT);
            if (al.isIdentity()) {
                return "can mix: id by id (one shared vocabulary)";
            }
            return String.format("can mix: by text, tokens aligned by the bytes they decode to (%,d combined tokens,"
                    + " %,d of them the first's and %,d the second's%s)", al.size(), al.coverage(0), al.coverage(1),
                    al.vetoedCount() == 0 ? "" : "; " + al.vetoedCount() + " with bytes no UTF-8 text has are never"
                            + " chosen");
        } catch (VocabAlignment.IncompatibleVocabularyException e) {
            return "cannot mix: " + e.getMessage();
        }
    }

    private static String abbreviate(String s) {
        String one = s.replace('\n', ' ');
        return one.length() <= 100 ? one : one.substring(0, 97) + "...";
    }
}
