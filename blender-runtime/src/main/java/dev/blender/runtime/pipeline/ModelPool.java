package dev.blender.runtime.pipeline;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.blender.nativebridge.ContextOptions;
import dev.blender.nativebridge.LlamaContext;
import dev.blender.nativebridge.LlamaModel;
import dev.blender.nativebridge.ModelOptions;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Loaded models shared between requests: a Caffeine cache weighted by file size under a memory
 * budget. A request {@link #lease leases} a model with a context; an evicted model is closed only when
 * its last lease is returned, so a running request never loses its model. Contexts are pooled per
 * model and reused (each request clears the KV cache it uses). Thread-safe.
 */
public final class ModelPool implements AutoCloseable {
    /** One loaded model, its idle contexts by options, and how many leases are out. */
    private static final class Entry {
        final LlamaModel model;
        final Map<ContextOptions, Deque<LlamaContext>> idle = new HashMap<>();
        int leases;
        boolean evicted;

        Entry(LlamaModel model) {
            this.model = model;
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
                        entry.model.close();
                    }
                } else {
                    entry.idle.computeIfAbsent(context.options(), o -> new ArrayDeque<>()).push(context);
                }
            }
        }
    }

    private record Key(Path path, ModelOptions options) {}

    private final Cache<Key, Entry> cache;
    private volatile boolean closed;

    /** A pool that keeps loaded models while their files total at most {@code memoryBudgetBytes}. */
    public ModelPool(long memoryBudgetBytes) {
        if (memoryBudgetBytes < 1) {
            throw new IllegalArgumentException("memoryBudgetBytes must be >= 1, was " + memoryBudgetBytes);
        }
        this.cache = Caffeine.newBuilder()
                .maximumWeight(memoryBudgetBytes)
                .weigher((Key k, Entry e) -> (int) Math.min(Integer.MAX_VALUE, Math.max(1, e.model.path().toFile().length())))
                .removalListener((Key k, Entry e, RemovalCause cause) -> {
                    if (e != null) {
                        retire(e);
                    }
                })
                .executor(Runnable::run) // close on the evicting thread: native memory is freed promptly
                .build();
    }

    /**
     * Leases {@code path} (loading it if needed) with a context made with {@code contextOptions}.
     *
     * @throws dev.blender.nativebridge.gguf.GgufFormatException the file is missing or not valid GGUF
     */
    public Lease lease(Path path, ModelOptions options, ContextOptions contextOptions) {
        Objects.requireNonNull(path, "path");
        if (closed) {
            throw new IllegalStateException("model pool is closed");
        }
        Objects.requireNonNull(contextOptions, "contextOptions");
        Key key = new Key(path.toAbsolutePath().normalize(), options);
        while (true) {
            Entry e = cache.get(key, k -> new Entry(LlamaModel.load(k.path(), k.options())));
            synchronized (e) {
                if (e.evicted) {
                    continue; // lost a race with eviction: load again
                }
                e.leases++;
                Deque<LlamaContext> idle = e.idle.get(contextOptions);
                LlamaContext ctx = idle == null || idle.isEmpty() ? null : idle.pop();
                try {
                    if (ctx == null) {
                        ctx = e.model.newContext(contextOptions);
                    }
                } catch (RuntimeException ex) {
                    e.leases--;
                    throw ex;
                }
                return new Lease(e, ctx);
            }
        }
    }

    private static void retire(Entry e) {
        synchronized (e) {
            e.evicted = true;
            e.idle.values().forEach(contexts -> contexts.forEach(LlamaContext::close));
            e.idle.clear();
            if (e.leases == 0) {
                e.model.close();
            }
        }
    }

    /** Models currently loaded. */
    public long loadedModels() {
        cache.cleanUp();
        return cache.estimatedSize();
    }

    /** Whether a file's model is loaded now (for tests and stats). */
    public boolean isLoaded(Path path) {
        Path p = path.toAbsolutePath().normalize();
        return cache.asMap().keySet().stream().anyMatch(k -> k.path().equals(p));
    }

    /** Evicts everything; models with leases out close when those are returned. Idempotent. */
    @Override
    public void close() {
        closed = true;
        cache.invalidateAll();
        cache.cleanUp();
    }

}
