package dev.blender.nativebridge;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * A native pointer with reference-counted ownership: the owner's {@code close()} and every user that
 * may outlive a single call (a context holds its model) hold a reference; the pointer is freed when
 * the owner has let go and the last reference is released. This is what makes
 * "close the model while a context or a tokenize call is still running" safe instead of a
 * use-after-free, in whatever order {@code close()} calls and the Cleaner run.
 */
final class NativeHandle {
    private final MemorySegment ptr;
    private final Consumer<MemorySegment> free;
    private final String what;
    private int references;
    private boolean ownerReleased;
    private boolean freed;

    NativeHandle(MemorySegment ptr, Consumer<MemorySegment> free, String what) {
        this.ptr = ptr;
        this.free = free;
        this.what = what;
    }

    /** Takes a reference for the duration of a native call or a dependent object's life. */
    synchronized MemorySegment retain() {
        if (ownerReleased) {
            throw new IllegalStateException(what + " is closed");
        }
        references++;
        return ptr;
    }

    void release() {
        boolean doFree;
        synchronized (this) {
            references--;
            doFree = ownerReleased && references == 0 && !freed;
            if (doFree) {
                freed = true;
            }
        }
        if (doFree) {
            free.accept(ptr);
        }
    }

    /** The owner lets go; idempotent. Safe to call from a Cleaner: it touches no owner state. */
    void releaseOwner() {
        boolean doFree;
        synchronized (this) {
            if (ownerReleased) {
                return;
            }
            ownerReleased = true;
            doFree = references == 0 && !freed;
            if (doFree) {
                freed = true;
            }
        }
        if (doFree) {
            free.accept(ptr);
        }
    }

    synchronized boolean isOpen() {
        return !ownerReleased;
    }

    synchronized boolean isFreed() {
        return freed;
    }
}
