package dev.blender.runtime.pipeline;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.LlamaBackend;
import dev.blender.nativebridge.LoraAdapter;
import dev.blender.nativebridge.MemoryFootprint;
import dev.blender.nativebridge.ModelOptions;
import dev.blender.nativebridge.gguf.GgufFile;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiFunction;

/**
 * Loaded models shared between requests, under two memory budgets: host memory (a Caffeine cache
 * weighted by the weight bytes a model keeps on the host) and GPU memory (the bytes its offloaded
 * layers take, {@link MemoryFootprint}): a model offloaded to a GPU does not fill RAM, and a model on
 * the CPU does not fill the GPU. When a model needs GPU memory that loaded models hold, the least
 * recently used of those are evicted first. A request {@link #lease leases} a model with a context;
 * an evicted model is closed only when its last lease is returned, so a running request never loses
 * its model (its memory counts until then). Contexts are pooled per model and reused (each request
 * clears the KV cache it uses). Thread-safe.
 */
public final class ModelPool implements AutoCloseable {
    /** One loaded model, its idle contexts by options, and how many leases are out. */
    private static final class Entry {
        final LlamaModel model;
        final MemoryFootprint footprint;
        final Map<ContextOptions, Deque<LlamaContext>> idle = new HashMap<>();
        /** LoRA adapters loaded over this model, by file: they close with the model, so they go with it. */
        final Map<Path, LoraAdapter> adapters = new HashMap<>();
        int leases;
        boolean evicted;

        Entry(LlamaModel model, MemoryFootprint footprint) {
            this.model = model;
            this.footprint = footprint;
        }
    }

    /** A model and a context of it, for one request; return it with {@link #close()}. */
    public final class Lease implements AutoCloseable {
        private final Entry entry;
        private final LlamaContext context;
        private boolean returned;

        private Lease(Entry entry, LlamaContext context) {
            this.entry = entry;
            this.context = context;
        }

        public LlamaModel model() {
            return entry.model;
        }

        public LlamaContext context() {
            return context;
        }

        @Override
        public void close() {
            synchronized (entry) {
                if (returned) {
                    return;
                }
                returned = true;
                entry.leases--;
                if (entry.evicted) {
                    context.close();
                    if (entry.leases == 0) {
                        closeModel(entry);
                    }
                } else {
                    entry.idle.computeIfAbsent(context.options(), o -> new ArrayDeque<>()).push(context);
                }
            }
        }
    }

    private record Key(Path path, ModelOptions options) {}

    private final Cache<Key, Entry> cache;
    private final long deviceBudgetBytes;
    private final BiFunction<GgufFile, ModelOptions, MemoryFootprint> footprints;
    /** GPU bytes of models not yet closed (evicted ones with leases out included); guarded by itself. */
    private final long[] deviceUsed = new long[1];
    private volatile boolean closed;
    private final LongAdder modelsLoaded = new LongAdder();
    private final LongAdder loadNanos = new LongAdder();
    private final LongAdder contextsCreated = new LongAdder();
    private final LongAdder contextNanos = new LongAdder();

    /**
     * What the pool has done since it was made: models loaded (cache misses) and contexts created (no idle
     * one of the options asked for), with the wall time of each kind. A warm pool serving a steady load
     * adds to neither; {@code blender bench} reports them to show it.
     */
    public record Stats(long modelsLoaded, double loadMillis, long contextsCreated, double contextMillis) {
        /** What happened between {@code before} and this. */
        public Stats since(Stats before) {
            return new Stats(modelsLoaded - before.modelsLoaded, loadMillis - before.loadMillis,
                    contextsCreated - before.contextsCreated, contextMillis - before.contextMillis);
        }
    }

    public Stats stats() {
        return new Stats(modelsLoaded.sum(), loadNanos.sum() / 1e6, contextsCreated.sum(), contextNanos.sum() / 1e6);
    }

    /** A pool that keeps loaded models while their files total at most {@code memoryBudgetBytes}, all on the host. */
    public ModelPool(long memoryBudgetBytes) {
        this(memoryBudgetBytes, Long.MAX_VALUE);
    }

    /**
     * A pool whose models keep at most {@code hostBudgetBytes} of weights in host memory and
     * {@code deviceBudgetBytes} in GPU memory.
     */
    public ModelPool(long hostBudgetBytes, long deviceBudgetBytes) {
        this(hostBudgetBytes, deviceBudgetBytes, ModelPool::footprintHere);
    }

    /** With the rule that says where a model's weights go: tests stand in for a GPU with it. */
    ModelPool(long hostBudgetBytes, long deviceBudgetBytes, BiFunction<GgufFile, ModelOptions, MemoryFootprint> footprints) {
        if (hostBudgetBytes < 1) {
            throw new IllegalArgumentException("memoryBudgetBytes must be >= 1, was " + hostBudgetBytes);
        }
        if (deviceBudgetBytes < 0) {
            throw new IllegalArgumentException("deviceMemoryBudgetBytes must be >= 0, was " + deviceBudgetBytes);
        }
        this.deviceBudgetBytes = deviceBudgetBytes;
        this.footprints = footprints;
        this.cache = Caffeine.newBuilder()
                // weighed in KiB: an int weight in bytes would cap every model at 2 GiB
                .maximumWeight(Math.max(1, hostBudgetBytes >> 10))
                .weigher((Key k, Entry e) -> (int) Math.min(Integer.MAX_VALUE, Math.max(1, e.footprint.hostBytes() >> 10)))
                .removalListener((Key k, Entry e, RemovalCause cause) -> {
                    if (e != null) {
                        retire(e);
                    }
                })
                .executor(Runnable::run) // close on the evicting thread: native memory is freed promptly
                .build();
    }

    /** Where the weights go on this machine: offloaded layers only when a GPU device exists. */
    static MemoryFootprint footprintHere(GgufFile gguf, ModelOptions options) {
        boolean gpu = options.gpuLayers() != 0
                && LlamaBackend.devices().stream().anyMatch(d -> d.kind().isGpu());
        return MemoryFootprint.of(gguf, options.gpuLayers(), gpu);
    }

    /**
     * Leases {@code path} (loading it if needed) with a context made with {@code contextOptions}.
     *
     * @throws dev.blender.nativebridge.gguf.GgufFormatException the file is missing or not valid GGUF
     */
    public Lease lease(Path path, ModelOptions options, ContextOptions contextOptions) {
        return lease(path, options, contextOptions, null, 0f);
    }

    /**
     * Leases {@code base} (loading it if needed, the same copy plain leases get) with a context that
     * applies exactly the LoRA adapter {@code adapter} at {@code scale}; the adapter loads once per loaded
     * copy of the base. A null {@code adapter} is a plain lease: the context applies no adapter.
     *
     * @throws dev.blender.nativebridge.gguf.GgufFormatException a file is missing or not valid GGUF
     * @throws dev.blender.nativebridge.AdapterFormatException the adapter does not fit the base
     */
    public Lease lease(Path base, ModelOptions options, ContextOptions contextOptions, Path adapter, float scale) {
        Lease lease = leaseContext(base, options, contextOptions);
        try {
            LlamaContext ctx = lease.context();
            // A pooled context may carry another member's adapter. Changing the list is safe here because
            // llama.cpp applies it to later decodes only, and Generator and MixedGenerator clear the KV
            // cache before decoding a prompt, so no cell computed under another adapter is read again.
            if (adapter == null) {
                if (!ctx.loraAdapters().isEmpty()) {
                    ctx.clearLoraAdapters();
                }
            } else {
                LoraAdapter a = adapterOf(lease.entry, adapter);
                if (!ctx.loraAdapters().equals(Map.of(a, scale))) {
                    ctx.clearLoraAdapters();
                    ctx.setLoraAdapter(a, scale);
                }
            }
            return lease;
        } catch (RuntimeException e) {
            lease.close();
            throw e;
        }
    }

    private static LoraAdapter adapterOf(Entry e, Path adapter) {
        Path key = adapter.toAbsolutePath().normalize();
        synchronized (e) { // once per loaded base: a second member or request reuses it
            LoraAdapter a = e.adapters.get(key);
            if (a == null || !a.isOpen()) {
                a = LoraAdapter.load(e.model, key);
                e.adapters.put(key, a);
            }
            return a;
        }
    }

    private Lease leaseContext(Path path, ModelOptions options, ContextOptions contextOptions) {
        Objects.requireNonNull(path, "path");
        if (closed) {
            throw new IllegalStateException("model pool is closed");
        }
        Objects.requireNonNull(contextOptions, "contextOptions");
        Key key = new Key(path.toAbsolutePath().normalize(), options);
        while (true) {
            Entry e = cache.getIfPresent(key);
            if (e == null) {
                e = load(key);
            }
            synchronized (e) {
                if (e.evicted) {
                    continue; // lost a race with eviction: load again
                }
                e.leases++;
                // popped under the lock: concurrent leases of one model (two adapter members in a mix,
                // parallel sampling) never share a context
                Deque<LlamaContext> idle = e.idle.get(contextOptions);
                LlamaContext ctx = idle == null || idle.isEmpty() ? null : idle.pop();
                try {
                    if (ctx == null) {
                        long t0 = System.nanoTime();
                        ctx = e.model.newContext(contextOptions);
                        contextNanos.add(System.nanoTime() - t0);
                        contextsCreated.increment();
                    }
                } catch (RuntimeException ex) {
                    e.leases--;
                    throw ex;
                }
                return new Lease(e, ctx);
            }
        }
    }

    /** Loads a model into the cache, first making room for its GPU bytes. */
    private Entry load(Key key) {
        MemoryFootprint fp = footprints.apply(GgufFile.read(key.path()), key.options());
        if (fp.deviceBytes() == 0) {
            return cache.get(key, k -> new Entry(timedLoad(k), fp));
        }
        if (fp.deviceBytes() > deviceBudgetBytes) {
            throw new IllegalArgumentException(key.path().getFileName() + " needs " + fp.deviceBytes() + " bytes of GPU"
                    + " memory with gpuLayers " + key.options().gpuLayers() + ", more than the GPU budget of "
                    + deviceBudgetBytes + "; offload fewer layers or raise deviceMemoryBudgetBytes");
        }
        synchronized (deviceUsed) { // one GPU load at a time, so two cannot both take the last free bytes
            Entry present = cache.getIfPresent(key);
            if (present != null) {
                return present;
            }
            while (deviceUsed[0] + fp.deviceBytes() > deviceBudgetBytes) {
                Key coldest = cache.policy().eviction().orElseThrow().coldest(Integer.MAX_VALUE).entrySet().stream()
                        .filter(en -> en.getValue().footprint.deviceBytes() > 0 && !en.getValue().evicted)
                        .map(Map.Entry::getKey).filter(k -> !k.equals(key)).findFirst().orElse(null);
                if (coldest == null) {
                    // the rest is held by evicted models that requests in flight still use, as with host
                    // memory: they free it when those requests end
                    break;
                }
                cache.invalidate(coldest); // closes it now, or when its last lease returns
                cache.cleanUp();
            }
            Entry e = cache.get(key, k -> new Entry(timedLoad(k), fp));
            deviceUsed[0] += fp.deviceBytes();
            return e;
        }
    }

    private LlamaModel timedLoad(Key k) {
        long t0 = System.nanoTime();
        LlamaModel m = LlamaModel.load(k.path(), k.options());
        loadNanos.add(System.nanoTime() - t0);
        modelsLoaded.increment();
        return m;
    }

    private void closeModel(Entry e) {
        e.adapters.clear(); // the model closes them
        e.model.close();
        if (e.footprint.deviceBytes() > 0) {
            synchronized (deviceUsed) {
                deviceUsed[0] -= e.footprint.deviceBytes();
            }
        }
    }

    /** GPU bytes held by models not yet closed. */
    public long deviceBytesInUse() {
        synchronized (deviceUsed) {
            return deviceUsed[0];
        }
    }

    private void retire(Entry e) {
        synchronized (e) {
            e.evicted = true;
            e.idle.values().forEach(contexts -> contexts.forEach(LlamaContext::close));
            e.idle.clear();
            if (e.leases == 0) {
                closeModel(e);
            }
        }
    }

    /** LoRA adapters loaded over the loaded models. */
    public int loadedAdapters() {
        int n = 0;
        for (Entry e : cache.asMap().values()) {
            synchronized (e) {
                n += e.adapters.size();
            }
        }
        return n;
    }

    /** Models currently loaded. */
    public long loadedModels() {
        cache.cleanUp();
        return cache.estimatedSize();
    }

    /** Leases not yet returned, over the loaded models: 0 whenever no request runs, else a request leaked one. */
    public int leasesOut() {
        int n = 0;
        for (Entry e : cache.asMap().values()) {
            synchronized (e) {
                n += e.leases;
            }
        }
        return n;
    }

    /** Contexts kept for reuse, over the loaded models: at most one per lease that was out at the same time. */
    public int idleContexts() {
        int n = 0;
        for (Entry e : cache.asMap().values()) {
            synchronized (e) {
                n += e.idle.values().stream().mapToInt(Deque::size).sum();
            }
        }
        return n;
    }

    /** Whether a file's model is loaded now (for tests and stats). */
    public boolean isLoaded(Path path) {
        Path p = path.toAbsolutePath().normalize();
        return cache.asMap().keySet().stream().anyMatch(k -> k.path().equals(p));
    }

    /** Whether a file's model is loaded now with these options. */
    public boolean isLoadedWith(Path path, ModelOptions options) {
        cache.cleanUp();
        return cache.getIfPresent(new Key(path.toAbsolutePath().normalize(), options)) != null;
    }

    /** Evicts everything; models with leases out close when those are returned. Idempotent. */
    @Override
    public void close() {
        closed = true;
        cache.invalidateAll();
        cache.cleanUp();
    }

}
