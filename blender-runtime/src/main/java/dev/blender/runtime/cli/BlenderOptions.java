package dev.blender.runtime.cli;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.runtime.SharedData;
import dev.blender.runtime.pipeline.Blender;
import dev.blender.runtime.pipeline.BlenderConfig;
import dev.blender.runtime.pipeline.BlenderConfigJson;
import dev.blender.runtime.pipeline.CompositionJson;
import java.io.PrintStream;
import dev.blender.runtime.remote.RemoteEndpoint;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The options that describe a blender, shared by {@code run}, {@code chat} and {@code bench}: a
 * configuration file, or models given one by one, or (with neither) the arith family from the shared
 * folder.
 */
final class BlenderOptions {
    @Option(names = "--config", paramLabel = "FILE.json", description = "a blender configuration file (see docs/configuration.md)")
    Path config;

    @Mixin
    ModelFlags models = new ModelFlags();

    // strings, not paths: a Path would fold the "//" of a server's URL
    @Option(names = "--judge", paramLabel = "GGUF|URL#MODEL", description = "the pairwise judge model: a GGUF file, "
        + "or a server's /v1/completions that returns logprobs (http://host:port/v1#model)")
    String judge;

    @Option(names = "--judge-template", description = "instruct, ab or arith (default: instruct where the judge"
            + " model has a chat template, else ab)")
    String judgeTemplate;

    @Option(names = "--reranker", paramLabel = "GGUF", description = "a reranker model (rank pooling) instead of a judge")
    Path reranker;

    @Option(names = "--fuser", paramLabel = "GGUF|URL#MODEL",
            description = "the fuser model: a GGUF file, or a server (http://host:port/v1#model, asked on /v1/completions)")
    String fuser;

    @Option(names = "--fuser-template", description = "llm-blender, aggregator or arith (default: aggregator where"
            + " the fuser model has a chat template, else llm-blender)")
    String fuserTemplate;

    @Option(names = "--strategy", paramLabel = "NAME|JSON|FILE.json", description = {
        "single, self-blend, full-blend, token-combine, cascade, an eval row's name (fuse:mix3, ...),",
        "member:<generator>, or a composition of stages in JSON (inline or a file)"})
    String strategy;

    @Option(names = "--candidates", description = "candidates per generator")
    Integer candidates;

    @Option(names = "--max-tokens", description = "token budget of a candidate and of the answer")
    Integer maxTokens;

    @Option(names = "--context", description = "KV cells per sequence")
    Integer context;

    @Option(names = "--prefix-reuse", negatable = true, description = "keep each generator's and the fuser's last"
            + " prompt in its KV cache, so a next prompt that starts the same (a chat's history) decodes only the rest;"
            + " seeded answers may then differ by float rounding (default: on for chat, off otherwise)")
    Boolean prefixReuse;

    /** What {@code --prefix-reuse} means when not given: chat keeps its history, the rest stay reproducible. */
    boolean prefixReuseByDefault;

    @Option(names = "--sequential-members", description = "generators sample one after another even where llama.cpp"
            + " decodes them exactly in parallel (v0.5.0); for measuring what parallel sampling saves")
    boolean sequentialMembers;


    @Option(names = "--generator-prompt", paramLabel = "FORMAT",
            description = "how a prompt is put to the generators, with {prompt} (default: {prompt}; for the arith"
                    + " defaults \"Q: {prompt} A:\", so type a bare question such as 17+62=)")
    String generatorPrompt;

    /** Whether no model was named, so the arith family from the shared folder is used. */
    /** A judge or fuser on a server: asked with the rendered prompt as raw text, as a local one reads it. */
    private static RemoteEndpoint remote(String flag, String spec) {
        try {
            return RemoteEndpoint.parse(spec).withApi(RemoteEndpoint.Api.COMPLETIONS);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(flag + " " + spec + ": " + e.getMessage(), e);
        }
    }

    boolean usesDefaults() {
        return config == null && models.models.isEmpty();
    }

    BlenderConfig config() {
        BlenderConfig.Builder b;
        if (config != null) {
            if (!models.models.isEmpty() || judge != null || reranker != null || fuser != null) {
                throw new IllegalArgumentException("give the models either in --config " + config.getFileName()
                        + " or with -m/--judge/--reranker/--fuser, not both");
            }
            // the file's settings, then whatever the command line says on top of them
            b = BlenderConfigJson.loadBuilder(config);
        } else {
            b = Blender.builder().modelOptions(models.modelOptions());
        }
        if (config != null) {
            // models come from the file
        } else if (models.models.isEmpty()) {
            Path dir = SharedData.resolve("models/arith").orElseThrow(() -> new IllegalArgumentException(
                    "no models given: pass -m MODEL.gguf (repeatable), --config FILE.json, or put the shared folder"
                            + " beside the checkout for the arith defaults"));
            b.generator(dir.resolve("answerer-a.gguf")).generator(dir.resolve("answerer-b.gguf"))
                    .judge(dir.resolve("judge.gguf"), JudgeTemplate.arith())
                    .fuser(dir.resolve("fuser.gguf"), FuserTemplate.arith())
                    .contextSize(64).maxTokens(8).fusedMaxTokens(8).generatorPrompt("Q: {prompt} A:");
        } else {
            models.addGenerators(b);
            if (judge != null) {
                JudgeTemplate t = null;
                try {
                    t = judgeTemplate == null ? null : JudgeTemplate.named(judgeTemplate);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--judge-template: " + e.getMessage(), e);
                }
                if (RemoteEndpoint.isUrl(judge)) {
                    RemoteEndpoint e = remote("--judge", judge);
                    b.judge(e, t != null ? t : JudgeTemplate.abAnswer(), e.model() != null ? e.model() : "judge");
                } else if (t == null) {
                    b.judge(Path.of(judge));
                } else {
                    b.judge(Path.of(judge), t);
                }
            }
            if (reranker != null) {
                b.reranker(reranker);
            }
            if (fuser != null) {
                FuserTemplate t;
                try {
                    t = fuserTemplate == null ? null : FuserTemplate.named(fuserTemplate);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--fuser-template: " + e.getMessage(), e);
                }
                if (RemoteEndpoint.isUrl(fuser)) {
                    RemoteEndpoint e = remote("--fuser", fuser);
                    b.fuser(e, t != null ? t : FuserTemplate.llmBlender(), e.model() != null ? e.model() : "fuser");
                } else if (t == null) {
                    b.fuser(Path.of(fuser));
                } else {
                    b.fuser(Path.of(fuser), t);
                }
            }
        }
        if (strategy != null) {
            try {
                b.composition(CompositionJson.parse(strategy));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--strategy: " + e.getMessage(), e);
            }
        }
        if (generatorPrompt != null) {
            b.generatorPrompt(generatorPrompt);
        }
        if (candidates != null) {
            b.candidatesPerModel(candidates);
        }
        if (maxTokens != null) {
            b.maxTokens(maxTokens).fusedMaxTokens(maxTokens);
        }
        if (context != null) {
            b.contextSize(context);
        }
        if (sequentialMembers) {
            b.parallelMembers(false);
        }
        if (prefixReuse != null) {
            b.prefixReuse(prefixReuse);
        } else if (prefixReuseByDefault && config == null) {
            b.prefixReuse(true);
        }
        if (models.probe.probeLoad) {
            b.probeLoad(true);
        }
        if (models.probe.timeout() != null) {
            b.probeTimeout(models.probe.timeout());
        }
        return b.buildConfig();
    }

    /** Builds the blender and loads its models, drawing a progress bar on {@code err}. */
    Blender open(PrintStream err) {
        Blender blender = Blender.create(config());
        try {
            Progress[] bar = new Progress[1];
            blender.warmUp((done, total, file) -> {
                if (bar[0] == null) {
                    bar[0] = new Progress(err, total);
                }
                bar[0].step(done, file == null ? "models loaded" : "loading " + file.getFileName());
            });
            bar[0].done();
            return blender;
        } catch (RuntimeException e) {
            blender.close();
            throw e;
        }
    }
}
