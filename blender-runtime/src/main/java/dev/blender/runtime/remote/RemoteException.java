package dev.blender.runtime.remote;

/**
 * A remote member did not answer: the message says why (the status and the server's own message, a
 * connection error, a timeout). {@link #retryable()} tells whether asking again might help.
 */
public final class RemoteException extends RuntimeException {
    private final boolean retryable;
    private final long retryAfterMillis;

    public RemoteException(String message, boolean retryable) {
        super(message);
        this.retryable = retryable;
        this.retryAfterMillis = 0;
    }

    /** A retryable status whose server said how long to wait ({@code Retry-After}). */
    RemoteException(String message, long retryAfterMillis) {
        super(message);
        this.retryable = true;
        this.retryAfterMillis = retryAfterMillis;
    }

    public RemoteException(String message, boolean retryable, Throwable cause) {
        super(message, cause);
        this.retryable = retryable;
        this.retryAfterMillis = 0;
    }

    long retryAfterMillis() {
        return retryAfterMillis;
    }

    /** A connection error, a 5xx or a 429: another try may be answered. */
    public boolean retryable() {
        return retryable;
    }
}
