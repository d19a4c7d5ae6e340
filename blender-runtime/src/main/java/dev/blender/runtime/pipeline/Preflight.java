package dev.blender.runtime.pipeline;

import dev.blender.genfuser.FuserTemplate;
import dev.blender.nativebridge.AdapterFormatException;
import dev.blender.nativebridge.LoraAdapter;
import dev.blender.nativebridge.MemoryFootprint;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.gguf.GgufFile;
import dev.blender.pairranker.judge.JudgeTemplate;
import dev.blender.pairranker.reranker.RerankerScorer;
import dev.blender.runtime.combine.CombineMethod;
import dev.blender.runtime.combine.CombineOptions;
import dev.blender.runtime.member.Member;
import dev.blender.runtime.remote.RemoteEndpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * What the files, the machine and the compositions say about a configuration's settings, checked once when a
 * {@link BlenderConfig} is built: the members' names and roles fit together, the remote members' API keys are
 * in the environment, every model file is valid GGUF (an adapter fitting its base), a reranker has a ranking
 * head, every model fits the memory budgets, and a composition is one the members can run. It changes when
 * what is read from the files or the machine changes; {@link BlenderConfig} holds the settings.
 */
final class Preflight {
    private final List<Path> generators;
    private final Map<Path, Member.Adapter> adapters;
    private final Map<Path, Member.Remote> remotes;
    private final Path judge;
    private final Path reranker;
    private final Path fuser;
    private final Map<Path, String> apiKeys = new HashMap<>();
    /** Every local model file and adapter base, read once: the checks below use what was read. */
    private final Map<Path, GgufFile> files = new HashMap<>();
    /** The bytes of the adapters over each base, loaded with it. */
    private final Map<Path, Long> adapterBytes = new HashMap<>();

    /**
     * Checks the members' names and roles, reads the remote members' keys and every model file.
     *
     * @throws IllegalArgumentException a name or role clash, an unset key variable, a missing or invalid file
     */
    Preflight(List<Path> generators, Map<Path, Member.Adapter> adapters, Map<Path, Member.Remote> remotes, Path judge,
              Path reranker, Path fuser) {
        this.generators = generators;
        this.adapters = adapters;
        this.remotes = remotes;
        this.judge = judge;
        this.reranker = reranker;
        this.fuser = fuser;
        checkNames(generators, adapters);
        checkRemoteNames(generators, adapters, remotes);
        checkRemoteRoles(judge, fuser, generators, remotes);
        for (Member.Remote r : remotes.values()) {
            try {
                String key = r.endpoint().apiKey(System::getenv);
                if (key != null) {
                    apiKeys.put(BlenderConfig.remoteKey(r), key);
                }
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("remote member '" + r.name() + "': " + e.getMessage(), e);
            }
        }
        for (Path p : allModels(generators, judge, reranker, fuser)) {
            if (!adapters.containsKey(p) && !remotes.containsKey(p)) {
                files.computeIfAbsent(p, GgufFile::read);
            }
        }
        for (Member.Adapter a : adapters.values()) {
            GgufFile base = files.computeIfAbsent(a.base(), f -> readFile(f, "base model of adapter " + a.name()));
            GgufFile adapter = readFile(a.adapter(), "LoRA adapter " + a.name());
            try {
                LoraAdapter.validate(adapter, base);
            } catch (AdapterFormatException e) {
                throw new IllegalArgumentException("adapter " + a.adapter() + " does not fit its base "
                        + a.base().getFileName() + ": " + e.getMessage(), e);
            }
            adapterBytes.merge(a.base(), sizeOf(a.adapter()), Long::sum);
        }
    }

    /** The remote members' bearer tokens by their keys, read from their apiKeyEnv. */
    Map<Path, String> apiKeys() {
        return Map.copyOf(apiKeys);
    }

    /**
     * The judge's template: the one given, else the default for its file (null without a judge): an
     * instruction-tuned judge or fuser is asked in its own chat format, a base model with a completion prompt.
     */
    JudgeTemplate judgeTemplate(JudgeTemplate given) {
        return judge != null && given == null ? JudgeTemplate.defaultFor(hasChatTemplate(judge)) : given;
    }

    /** The fuser's template: the one given, else the default for its file (null without a fuser). */
    FuserTemplate fuserTemplate(FuserTemplate given) {
        return fuser != null && given == null ? FuserTemplate.defaultFor(hasChatTemplate(fuser)) : given;
    }

    /** A reranker must have a ranking head, and ranks instead of a judge. */
    void checkReranker() {
        if (reranker != null) {
            RerankerScorer.checkSupported(files.get(reranker));
            if (judge != null) {
                throw new IllegalArgumentException("configure a judge or a reranker, not both: both rank candidates");
            }
        }
    }

    /** Every local model, loaded with {@code options}, must fit the budgets on its own, or it could never stay loaded. */
    void checkMemory(Function<Path, ModelOptions> options, long memoryBudgetBytes, long deviceMemoryBudgetBytes) {
        for (Path member : allModels(generators, judge, reranker, fuser)) {
            if (remotes.containsKey(member)) {
                continue; // weightless here: its server holds the weights
            }
            ModelOptions o = options.apply(member);
            // adapter members load their base once for all of them, with every adapter over it (file size:
            // llama.cpp keeps their factors as stored)
            Member.Adapter a = adapters.get(member);
            Path p = a == null ? member : a.base();
            MemoryFootprint fp = ModelPool.footprintHere(files.get(p), o);
            long host = fp.hostBytes() + (a == null ? 0 : adapterBytes.get(p));
            if (host > memoryBudgetBytes) {
                throw new IllegalArgumentException("memoryBudgetBytes " + memoryBudgetBytes + " is smaller than the "
                        + host + " bytes " + p.getFileName() + (a == null ? "" : " with its adapters")
                        + " keeps in host memory: it could never stay loaded; raise the budget"
                        + (o.gpuLayers() == 0 ? " or offload layers to a GPU" : ""));
            }
            if (deviceMemoryBudgetBytes > 0 && fp.deviceBytes() > deviceMemoryBudgetBytes) {
                throw new IllegalArgumentException("deviceMemoryBudgetBytes " + deviceMemoryBudgetBytes + " is smaller than"
                        + " the " + fp.deviceBytes() + " bytes " + p.getFileName() + " puts on the GPU with gpuLayers "
                        + o.gpuLayers() + "; raise the budget or offload fewer layers");
            }
        }
    }

    private static List<Path> allModels(List<Path> generators, Path judge, Path reranker, Path fuser) {
        List<Path> all = new ArrayList<>(generators);
        for (Path p : new Path[] {judge, reranker, fuser}) {
            if (p != null) {
                all.add(p);
            }
        }
        return all;
    }

    private boolean hasChatTemplate(Path model) {
        GgufFile f = files.get(adapters.containsKey(model) ? adapters.get(model).base() : model);
        return f != null && f.string("tokenizer.chat_template").isPresent();
    }

    private static GgufFile readFile(Path p, String what) {
        if (!Files.isRegularFile(p)) {
            throw new IllegalArgumentException("the " + what + ", " + p + ", does not exist");
        }
        try {
            return GgufFile.read(p);
        } catch (dev.blender.nativebridge.gguf.GgufFormatException e) {
            throw new IllegalArgumentException("the " + what + ", " + p + ", is not valid GGUF: " + e.getMessage(), e);
        }
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new IllegalArgumentException(p + " cannot be read: " + e.getMessage(), e);
        }
    }

    /**
     * A remote judge must be asked through {@code /v1/completions} (its verdict continues the judge prompt as
     * raw text), and a remote judge or fuser needs a key of its own (its name) among the remote members.
     */
    private static void checkRemoteRoles(Path judge, Path fuser, List<Path> generators, Map<Path, Member.Remote> remotes) {
        if (judge != null && remotes.containsKey(judge)) {
            Member.Remote r = remotes.get(judge);
            if (r.endpoint().api() != RemoteEndpoint.Api.COMPLETIONS) {
                throw new IllegalArgumentException("remote judge '" + r.name() + "': its \"api\" must be \"completions\""
                        + " (the verdict continues the judge's prompt as raw text), was chat");
            }
        }
        for (Path p : new Path[] {judge, fuser}) {
            if (p != null && remotes.containsKey(p) && generators.contains(p)) {
                throw new IllegalArgumentException("the remote " + (p.equals(judge) ? "judge" : "fuser") + " is named '"
                        + remotes.get(p).name() + "' like a generator; give it its own \"name\"");
            }
        }
        if (judge != null && judge.equals(fuser) && remotes.containsKey(judge)) {
            throw new IllegalArgumentException("the remote judge and fuser are both named '" + remotes.get(judge).name()
                    + "'; give each its own \"name\"");
        }
    }

    /** Compositions name generators: an adapter member must be one entry and its name nobody else's. */
    private static void checkNames(List<Path> generators, Map<Path, Member.Adapter> adapters) {
        for (Member.Adapter a : adapters.values()) {
            if (generators.stream().filter(a.adapter()::equals).count() > 1) {
                throw new IllegalArgumentException("adapter " + a.adapter() + " is listed twice; give each member its"
                        + " own adapter file");
            }
            for (Path g : generators) {
                String other = adapters.containsKey(g) ? adapters.get(g).name() : Member.shortName(g);
                if (!g.equals(a.adapter()) && (other.equals(a.name()) || g.getFileName().toString().equals(a.name()))) {
                    throw new IllegalArgumentException("two generators are named '" + a.name() + "' (" + a.adapter()
                            + " and " + g + "); name the adapter member otherwise");
                }
            }
        }
    }

    /** A remote member's name must be nobody else's: compositions and results know members by name. */
    private static void checkRemoteNames(List<Path> generators, Map<Path, Member.Adapter> adapters,
                                         Map<Path, Member.Remote> remotes) {
        for (Member.Remote r : remotes.values()) {
            if (!generators.contains(BlenderConfig.remoteKey(r))) {
                continue; // the judge or fuser: compositions do not name it
            }
            if (generators.stream().filter(BlenderConfig.remoteKey(r)::equals).count() > 1) {
                throw new IllegalArgumentException("two remote members are named '" + r.name() + "'; give each its own"
                        + " \"name\"");
            }
            for (Path g : generators) {
                if (g.equals(BlenderConfig.remoteKey(r))) {
                    continue;
                }
                String other = adapters.containsKey(g) ? adapters.get(g).name() : Member.shortName(g);
                if (other.equals(r.name()) || g.getFileName().toString().equals(r.name())) {
                    throw new IllegalArgumentException("two generators are named '" + r.name() + "' (" + g + " and the"
                            + " remote member at " + r.endpoint().baseUrl() + "); name the remote member otherwise");
                }
            }
        }
    }

    /** Why these generators cannot run a composition, or null when they can. */
    static String unsupported(BlenderConfig config, Composition composition) {
        List<Path> generators = config.generators();
        if (composition.usesMix() && generators.size() < 2) {
            return "strategy " + composition.name() + " mixes models token by token and needs at least two generator"
                    + " models";
        }
        if (config.hasRemoteGenerators()) {
            String remote = generators.stream().flatMap(g -> config.remote(g).stream()).map(Member.Remote::name).sorted()
                    .toList().toString();
            String mix = composition.usesMix() ? remoteMixProblem(config, composition) : null;
            if (mix != null) {
                return mix;
            }
            for (Stage s : composition.stages()) {
                if (s instanceof Stage.Route x && x.rule() instanceof Stage.RouteRule.Confidence) {
                    return "strategy " + composition.name() + " routes by confidence, which reads every generator's"
                            + " token probabilities; remote members " + remote + " give only text";
                }
            }
        }
        for (Stage s : composition.stages()) {
            if (s instanceof Stage.Sample x) {
                for (String m : x.models()) {
                    if (!m.equalsIgnoreCase("first") && config.named(m) == null) {
                        return "strategy " + composition.name() + " samples '" + m + "', which is not one of the generators "
                                + config.generatorNames();
                    }
                }
            }
        }
        return null;
    }

    /**
     * Why a composition's per-token mix cannot take the remote generators, or null: a remote member gives
     * its top log-probabilities of one next token of a raw-text prefix ({@code /v1/completions}), which
     * linear and log-linear mixing can use with fixed weights; negative evidence, adaptive and PackLLM weights
     * (which read every member's log-probabilities of the prompt) and a solo gate cannot.
     */
    private static String remoteMixProblem(BlenderConfig config, Composition composition) {
        CombineOptions combine = config.combine();
        for (Path g : config.generators()) {
            Member.Remote r = config.remote(g).orElse(null);
            if (r != null && r.endpoint().api() != RemoteEndpoint.Api.COMPLETIONS) {
                return "strategy " + composition.name() + " mixes models token by token, which continues a raw-text"
                        + " prefix one token at a time: remote member '" + r.name() + "' needs \"api\": \"completions\"";
            }
        }
        for (Stage s : composition.stages()) {
            if (!(s instanceof Stage.Mix x)) {
                continue;
            }
            CombineMethod method = x.method() != null ? x.method()
                    : combine != null ? combine.method() : CombineMethod.LOG_LINEAR;
            if (method != CombineMethod.LINEAR && method != CombineMethod.LOG_LINEAR) {
                return "strategy " + composition.name() + " mixes by " + method + "; with remote members a mix is"
                        + " linear or log-linear";
            }
            if (x.pack() != null || x.solo() != null) {
                return "strategy " + composition.name() + " mixes with " + (x.pack() != null ? "pack" : "solo")
                        + ", which reads every member's full distribution; remote members give their top"
                        + " log-probabilities only";
            }
            if (x.adapt() != null && x.adapt() != CombineOptions.Adaptation.FIXED) {
                return "strategy " + composition.name() + " mixes with adapt " + dev.blender.runtime.Names.id(x.adapt())
                        + ", which reads every member's log-probabilities of each token; with remote members a mix"
                        + " takes fixed weights";
            }
            if (x.method() == null && x.adapt() == null && combine != null && combine.adaptive()) {
                return "combine " + combine + " has adaptive weights, which read every member's log-probabilities"
                        + " of the prompt; with remote members a mix takes fixed weights";
            }
        }
        return null;
    }
}
