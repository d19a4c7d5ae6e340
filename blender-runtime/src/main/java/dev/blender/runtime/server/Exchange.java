package dev.blender.runtime.server;

import dev.blender.runtime.pipeline.Cancellation;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;

/**
 * One request and its response: a whole response, or an event stream written chunk by chunk as the
 * answer's tokens arrive. Written by one thread at a time (the connection's, or a worker's); the
 * connection's thread meanwhile watches the socket and calls {@link #clientGone()} when the client
 * leaves, which cancels the blend.
 */
final class Exchange {
    private static final byte[] CRLF = {'\r', '\n'};

    final HttpRequest request;
    private final HttpConnection connection;
    private final OutputStream out;
    private final Cancellation cancellation = new Cancellation();
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile boolean gone;
    private volatile Runnable whenGone;
    private boolean started;
    private boolean chunked;
    private boolean close;

    private final BooleanSupplier serverClosing;

    Exchange(HttpRequest request, HttpConnection connection, OutputStream out, BooleanSupplier serverClosing) {
        this.request = request;
        this.connection = connection;
        this.out = out;
        this.serverClosing = serverClosing;
        this.close = !request.keepAlive();
    }

    /** Set when the client leaves; the blend checks it before every decode step. */
    Cancellation cancellation() {
        return cancellation;
    }

    /** The client closed its connection (or a write to it failed): whatever runs for it is cancelled. */
    void clientGone() {
        gone = true;
        cancellation.cancel();
        Runnable r = whenGone;
        whenGone = null;
        if (r != null) {
            r.run();
        }
    }

    /** Also runs {@code r} when the client leaves (once). */
    void whenGone(Runnable r) {
        whenGone = r;
    }

    boolean isGone() {
        return gone;
    }

    /** Whether the status line was sent: after that, an error can only be told inside the body. */
    synchronized boolean started() {
        return started;
    }

    /** A whole response with a Content-Length; ignored when the client is gone. */
    synchronized void respond(int status, Map<String, String> headers, byte[] body) {
        if (started) {
            throw new IllegalStateException("response already started");
        }
        started = true;
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.put("Content-Length", Integer.toString(body.length));
        write(head(status, h), body, false);
    }

    /** Starts a response whose length is not known: chunked on HTTP/1.1, ended by closing on HTTP/1.0. */
    synchronized void startStream(int status, Map<String, String> headers) {
        if (started) {
            throw new IllegalStateException("response already started");
        }
        started = true;
        Map<String, String> h = new LinkedHashMap<>(headers);
        if (request.version().equals("HTTP/1.1")) {
            chunked = true;
            h.put("Transfer-Encoding", "chunked");
        } else {
            close = true;
        }
        write(head(status, h), new byte[0], false);
    }

    /** One piece of a streamed body, sent at once (a token must not wait in a buffer). */
    synchronized void streamPart(byte[] data) {
        if (data.length == 0) {
            return;
        }
        if (!chunked) {
            write(data, new byte[0], false);
            return;
        }
        write((Integer.toHexString(data.length) + "\r\n").getBytes(StandardCharsets.US_ASCII), data, true);
    }

    /** Ends a streamed body. */
    synchronized void endStream() {
        if (chunked) {
            write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII), new byte[0], false);
        }
    }

    private byte[] head(int status, Map<String, String> headers) {
        StringBuilder b = new StringBuilder(request.version().equals("HTTP/1.0") ? "HTTP/1.0 " : "HTTP/1.1 ")
                .append(status).append(' ').append(reason(status)).append("\r\n");
        b.append("Server: blender\r\n");
        close |= serverClosing.getAsBoolean(); // a server shutting down takes no next request on this connection
        headers.forEach((k, v) -> b.append(k).append(": ").append(v).append("\r\n"));
        if (close) {
            b.append("Connection: close\r\n");
        } else if (request.version().equals("HTTP/1.0")) {
            b.append("Connection: keep-alive\r\n");
        }
        return b.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII);
    }

    private void write(byte[] first, byte[] second, boolean crlf) {
        if (gone) {
            return;
        }
        try {
            out.write(first);
            out.write(second);
            if (crlf) {
                out.write(CRLF);
            }
            out.flush();
        } catch (IOException e) {
            clientGone();
        }
    }

    /** The response is complete: the connection reads the next request, or closes when this one asked to. */
    void done() {
        if (close || gone) {
            connection.close();
        }
        done.countDown();
    }

    boolean isDone() {
        return done.getCount() == 0;
    }

    void awaitDone() throws InterruptedException {
        done.await();
    }

    boolean closesConnection() {
        return close || gone;
    }

    static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 408 -> "Request Timeout";
            case 411 -> "Length Required";
            case 413 -> "Content Too Large";
            case 429 -> "Too Many Requests";
            case 431 -> "Request Header Fields Too Large";
            case 500 -> "Internal Server Error";
            case 503 -> "Service Unavailable";
            case 505 -> "HTTP Version Not Supported";
            default -> "Status " + status;
        };
    }
}
