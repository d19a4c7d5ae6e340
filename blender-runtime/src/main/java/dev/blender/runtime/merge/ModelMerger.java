package dev.blender.runtime.merge;

import dev.blender.runtime.member.Member;
import dev.blender.nativebridge.gguf.GgmlQuant;
import dev.blender.nativebridge.gguf.GgmlType;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.nativebridge.gguf.GgufValue;
import dev.blender.nativebridge.gguf.GgufWriter;
import dev.blender.nativebridge.gguf.TensorInfo;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * Merges GGUF models tensor by tensor into a new GGUF file.
 *
 * <pre>{@code
 * MergeOptions o = MergeOptions.builder(MergeMethod.TIES).base(base).model(add).model(sub)
 *         .density(0.5).type(GgmlType.Q8_0).build();
 * MergeResult r = ModelMerger.merge(o, Path.of("merged.gguf"), (done, total, t) -> {});
 * }</pre>
 *
 * <p>Every input is read and validated first; inputs that cannot be merged (another architecture, a
 * tensor missing from one, another shape, other vocabulary tokens, a tensor type that cannot be
 * dequantised here) are refused with an {@link IllegalArgumentException} naming the first difference,
 * before anything is written. Input tensors of type F32, F16, Q8_0 and Q4_0 are dequantised to
 * {@code float}; every tensor is merged, norms and embeddings included. The output takes the metadata of
 * the base (or of the first model when there is none), with {@code general.name} saying it is a merge,
 * {@code general.file_type} its type, and the provenance under {@value #METADATA_PREFIX}: {@code method},
 * the parameters the method used ({@code lambda}, {@code density}, {@code drop}, {@code seed}), {@code base}
 * (the base's file name, when there is one), {@code inputs} (every input's file name, the base first) and
 * {@code sha256} (each input's hex SHA-256, in the same order).
 *
 * <p>Memory: one tensor of each input and the merged one at a time (each input tensor is mapped from its
 * file, dequantised and unmapped); the output is written to a temporary file and moved into place, so a
 * failed merge leaves nothing behind. A tensor must fit one Java array (2^31 values).
 */
public final class ModelMerger {
    /** The prefix of the provenance keys written into the output's metadata. */
    public static final String METADATA_PREFIX = "blender.merge.";

    private ModelMerger() {}

    /** {@link #merge(MergeOptions, Path, MergeListener)} without progress. */
    public static MergeResult merge(MergeOptions options, Path output) throws IOException {
        return merge(options, output, MergeListener.NONE);
    }

    /**
     * Merges {@code options.inputs()} into {@code output} (replaced if it exists and is not an input).
     *
     * @throws IllegalArgumentException if the output is one of the inputs, or the inputs cannot be merged
     * @throws dev.blender.nativebridge.gguf.GgufFormatException if an input is missing or not a valid GGUF file
     * @throws IOException if reading or writing fails
     */
    public static MergeResult merge(MergeOptions options, Path output, MergeListener listener) throws IOException {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(output, "output");
        Objects.requireNonNull(listener, "listener");
        long start = System.nanoTime();
        List<Path> inputs = options.inputs();
        refuseOverwritingAnInput(output, inputs);

        Map<Path, GgufFile> byPath = new LinkedHashMap<>();
        List<GgufFile> files = new ArrayList<>();
        for (Path p : inputs) {
            files.add(byPath.computeIfAbsent(p.toAbsolutePath().normalize(), GgufFile::read));
        }
        GgufFile reference = files.get(0);
        for (GgufFile other : files.subList(1, files.size())) {
            checkMergeable(reference, other);
        }
        for (GgufFile f : byPath.values()) {
            checkReadable(f);
        }

        List<String> sha256 = new ArrayList<>();
        Map<Path, String> hashes = new HashMap<>();
        for (Path p : inputs) {
            sha256.add(hashes.computeIfAbsent(p.toAbsolutePath().normalize(), ModelMerger::sha256));
        }

        try (Inputs open = new Inputs(byPath.values())) {
            GgufWriter writer = new GgufWriter();
            writeMetadata(writer, reference, options, sha256);
            List<TensorInfo> tensors = reference.tensors();
            Merging merging = new Merging(options, files, open, tensors.size(), listener);
            long parameters = 0;
            for (int i = 0; i < tensors.size(); i++) {
                TensorInfo t = tensors.get(i);
                writer.tensor(t.name(), outputType(t, options.type()), t.dims(), merging.source(i, t));
                parameters += t.elementCount();
            }
            writer.write(output);
            return new MergeResult(output, options, tensors.size(), parameters, Files.size(output), sha256,
                    (System.nanoTime() - start) / 1e6);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /**
     * One tensor of a validated file as floats (F32, F16, Q8_0 and Q4_0 are dequantised), read through a
     * mapping of that tensor's bytes alone.
     *
     * @throws IllegalArgumentException if there is no such tensor, its type cannot be dequantised here, or
     *     it has more values than a Java array holds
     */
    public static float[] readTensor(GgufFile file, String name) throws IOException {
        TensorInfo t = file.tensor(name).orElseThrow(() -> new IllegalArgumentException(
                "no tensor '" + name + "' in " + file.path()));
        try (FileChannel ch = FileChannel.open(file.path(), StandardOpenOption.READ)) {
            return readTensor(ch, file, t);
        }
    }

    private static float[] readTensor(FileChannel ch, GgufFile file, TensorInfo t) throws IOException {
        if (!GgmlQuant.supports(t.type()) || t.elementCount() > Integer.MAX_VALUE - 16) {
            checkReadable(file);
        }
        int ne0 = Math.toIntExact(t.dim(0));
        long rows = t.rowCount();
        long rowBytes = t.type().byteSize(ne0);
        float[] out = new float[Math.toIntExact(t.elementCount())];
        float[] row = new float[ne0];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, file.absoluteOffset(t), t.byteSize(), arena);
            for (long r = 0; r < rows; r++) {
                GgmlQuant.dequantizeRow(t.type(),
                        seg.asSlice(r * rowBytes, rowBytes).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN), row);
                System.arraycopy(row, 0, out, Math.toIntExact(r * ne0), ne0);
            }
        }
        return out;
    }

    /**
     * The type a tensor is written as: 1-D tensors (norms, biases) stay F32 as llama.cpp's own quantiser
     * keeps them, and so do tensors whose rows are not whole blocks of the requested type.
     */
    public static GgmlType outputType(TensorInfo tensor, GgmlType requested) {
        if (tensor.rank() < 2 || tensor.dim(0) % requested.blockSize() != 0) {
            return GgmlType.F32;
        }
        return requested;
    }

    /**
     * Checks that {@code other} can be merged into {@code reference}: the same architecture, the same tensor
     * names, the same shape for each, the same vocabulary tokens.
     *
     * @throws IllegalArgumentException naming the first difference
     */
    public static void checkMergeable(GgufFile reference, GgufFile other) {
        String a = reference.path().getFileName().toString();
        String b = other.path().getFileName().toString();
        String archA = reference.architecture().orElse("(none)");
        String archB = other.architecture().orElse("(none)");
        if (!archA.equals(archB)) {
            throw new IllegalArgumentException("cannot merge " + b + " into " + a + ": the architecture is " + archA
                    + " in " + a + " but " + archB + " in " + b);
        }
        for (TensorInfo t : reference.tensors()) {
            if (other.tensor(t.name()).isEmpty()) {
                throw new IllegalArgumentException("cannot merge " + b + " into " + a + ": tensor '" + t.name()
                        + "' is in " + a + " but not in " + b);
            }
        }
        for (TensorInfo t : other.tensors()) {
            if (reference.tensor(t.name()).isEmpty()) {
                throw new IllegalArgumentException("cannot merge " + b + " into " + a + ": tensor '" + t.name()
                        + "' is in " + b + " but not in " + a);
            }
        }
        for (TensorInfo t : reference.tensors()) {
            TensorInfo u = other.tensor(t.name()).orElseThrow();
            if (!Arrays.equals(t.dims(), u.dims())) {
                throw new IllegalArgumentException("cannot merge " + b + " into " + a + ": tensor '" + t.name()
                        + "' has shape " + Arrays.toString(t.dims()) + " in " + a + " but "
                        + Arrays.toString(u.dims()) + " in " + b);
            }
        }
        List<String> tokensA = reference.stringArray("tokenizer.ggml.tokens");
        List<String> tokensB = other.stringArray("tokenizer.ggml.tokens");
        if (tokensA.size() != tokensB.size()) {
            throw new IllegalArgumentException("cannot merge " + b + " into " + a + ": the vocabulary has "
                    + tokensA.size() + " tokens in " + a + " but " + tokensB.size() + " in " + b);
        }
        for (int id = 0; id < tokensA.size(); id++) {
            if (!tokensA.get(id).equals(tokensB.get(id))) {
                throw new IllegalArgumentException("cannot merge " + b + " into " + a + ": the vocabularies differ,"
                        + " token " + id + " is '" + tokensA.get(id) + "' in " + a + " but '" + tokensB.get(id)
                        + "' in " + b);
            }
        }
    }

    private static void checkReadable(GgufFile f) {
        for (TensorInfo t : f.tensors()) {
            if (!GgmlQuant.supports(t.type())) {
                throw new IllegalArgumentException("cannot merge " + f.path().getFileName() + ": tensor '" + t.name()
                        + "' is " + t.type() + ", which cannot be dequantised here (supported: f32, f16, q8_0,"
                        + " q4_0); merge the f32 or f16 originals instead");
            }
            if (t.elementCount() > Integer.MAX_VALUE - 16) {
                throw new IllegalArgumentException("cannot merge " + f.path().getFileName() + ": tensor '" + t.name()
                        + "' has " + t.elementCount() + " values, more than one Java array holds");
            }
        }
    }

    private static void refuseOverwritingAnInput(Path output, List<Path> inputs) throws IOException {
        Path out = output.toAbsolutePath().normalize();
        for (Path in : inputs) {
            Path p = in.toAbsolutePath().normalize();
            if (out.equals(p) || (Files.exists(out) && Files.exists(p) && Files.isSameFile(out, p))) {
                throw new IllegalArgumentException("-o " + output + " is one of the inputs; write the merge to"
                        + " another file");
            }
        }
    }

    private static void writeMetadata(GgufWriter w, GgufFile reference, MergeOptions o, List<String> sha256) {
        String name = name(o);
        int fileType = switch (o.type()) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            default -> throw new AssertionError(o.type());
        };
        boolean named = false;
        boolean typed = false;
        for (Map.Entry<String, GgufValue> e : reference.metadata().entrySet()) {
            String key = e.getKey();
            if (key.equals(GgufFile.ALIGNMENT_KEY)) {
                w.alignment(reference.alignment());
            } else if (key.equals("general.name")) {
                w.putString(key, name);
                named = true;
            } else if (key.equals("general.file_type")) {
                w.putU32(key, fileType);
                typed = true;
            } else if (!key.startsWith(METADATA_PREFIX)) {
                // a merge of merges records only its own provenance; the inputs' hashes lead to theirs
                w.put(key, e.getValue());
            }
        }
        if (!named) {
            w.putString("general.name", name);
        }
        if (!typed) {
            w.putU32("general.file_type", fileType);
        }
        w.putString(METADATA_PREFIX + "method", o.method().cliName());
        switch (o.method()) {
            case LINEAR -> { }
            case TASK_ARITHMETIC -> w.putF64(METADATA_PREFIX + "lambda", o.lambda());
            case TIES -> {
                w.putF64(METADATA_PREFIX + "lambda", o.lambda());
                w.putF64(METADATA_PREFIX + "density", o.density());
            }
            case DARE -> {
                w.putF64(METADATA_PREFIX + "lambda", o.lambda());
                w.putF64(METADATA_PREFIX + "drop", o.drop());
                w.putI64(METADATA_PREFIX + "seed", o.seed());
            }
        }
        if (o.base() != null) {
            w.putString(METADATA_PREFIX + "base", o.base().getFileName().toString());
        }
        w.putStringArray(METADATA_PREFIX + "inputs", o.inputs().stream().map(p -> p.getFileName().toString()).toList());
        w.putStringArray(METADATA_PREFIX + "sha256", sha256);
    }

    /** The output's {@code general.name}, e.g. {@code "ties merge of add + sub (base: base)"}. */
    static String name(MergeOptions o) {
        String models = o.models().stream().map(ModelMerger::stem).collect(Collectors.joining(" + "));
        return o.method().cliName() + " merge of " + models + (o.base() != null ? " (base: " + stem(o.base()) + ")" : "");
    }

    private static String stem(Path p) {
        return Member.shortName(p);
    }

    private static String sha256(Path p) {
        try (InputStream in = Files.newInputStream(p)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p + ": " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }

    /** The inputs' open channels, one per distinct file. */
    private static final class Inputs implements AutoCloseable {
        private final Map<Path, FileChannel> channels = new HashMap<>();

        Inputs(Iterable<GgufFile> files) throws IOException {
            try {
                for (GgufFile f : files) {
                    FileChannel ch = FileChannel.open(f.path(), StandardOpenOption.READ);
                    channels.put(f.path(), ch);
                    // a file that changed since it was validated could be read past its end
                    if (ch.size() != f.fileSize()) {
                        throw new IllegalArgumentException(f.path() + " changed while it was being merged ("
                                + f.fileSize() + " bytes, now " + ch.size() + ")");
                    }
                }
            } catch (IOException | RuntimeException e) {
                close();
                throw e;
            }
        }

        float[] read(GgufFile file, String name) {
            try {
                return readTensor(channels.get(file.path()), file, file.tensor(name).orElseThrow());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read tensor '" + name + "' of " + file.path() + ": "
                        + e.getMessage(), e);
            }
        }

        @Override
        public void close() throws IOException {
            IOException first = null;
            for (FileChannel ch : channels.values()) {
                try {
                    ch.close();
                } catch (IOException e) {
                    first = first == null ? e : first;
                }
            }
            if (first != null) {
                throw first;
            }
        }
    }

    /** Merges each tensor when the writer asks for its first row and keeps it until its last. */
    private static final class Merging {
        private final MergeOptions options;
        private final GgufFile base;
        private final List<GgufFile> models;
        private final Inputs inputs;
        private final int total;
        private final MergeListener listener;
        private int currentIndex = -1;
        private float[] current;
        private int done;

        Merging(MergeOptions options, List<GgufFile> files, Inputs inputs, int total, MergeListener listener) {
            this.options = options;
            this.base = options.base() != null ? files.get(0) : null;
            this.models = options.base() != null ? files.subList(1, files.size()) : files;
            this.inputs = inputs;
            this.total = total;
            this.listener = listener;
        }

        GgufWriter.TensorSource source(int index, TensorInfo t) {
            int ne0 = Math.toIntExact(t.dim(0));
            long rows = t.rowCount();
            return (row, out) -> {
                if (currentIndex != index) {
                    current = merge(t.name());
                    currentIndex = index;
                }
                System.arraycopy(current, Math.toIntExact(row * ne0), out, 0, ne0);
                if (row == rows - 1) {
                    current = null;
                    listener.tensorMerged(++done, total, t.name());
                }
            };
        }

        private float[] merge(String name) {
            float[][] m = new float[models.size()][];
            for (int i = 0; i < m.length; i++) {
                m[i] = inputs.read(models.get(i), name);
            }
            if (options.method() == MergeMethod.LINEAR) {
                return MergeKernels.linear(m);
            }
            float[] b = inputs.read(base, name);
            return switch (options.method()) {
                case TASK_ARITHMETIC -> MergeKernels.taskArithmetic(b, m, options.lambda());
                case TIES -> MergeKernels.ties(b, m, options.density(), options.lambda());
                case DARE -> MergeKernels.dare(b, m, options.drop(), options.lambda(), random(name));
                case LINEAR -> throw new AssertionError();
            };
        }

        /** A generator per tensor, so that a tensor's draws depend on the seed and its name, not on the order. */
        private SplittableRandom random(String tensor) {
            return new SplittableRandom(options.seed() * 0x9E3779B97F4A7C15L + tensor.hashCode());
        }
    }
}
