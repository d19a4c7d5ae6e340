package dev.blender.runtime.server;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One client connection, on its own thread: reads HTTP/1.x requests one after another
 * (keep-alive), hands each to the server, and while its response is being produced keeps reading the
 * socket. That read is how a client that leaves is noticed at once, streamed or not: it returns
 * end-of-stream (or fails) when the client closes, and the request is cancelled before its next
 * decode step. This is why the server reads its own sockets: the JDK's HttpServer does not read a
 * connection while a handler runs, so a client that leaves during a non-streamed blend went unseen.
 *
 * <p>Bytes that arrive instead are the next (pipelined) request: they stay buffered until the current
 * response is complete. A client that half-closes its side after the request counts as gone, as it
 * does for llama.cpp's server and uvicorn: the two cannot be told apart from the server's side.
 */
final class HttpConnection implements Runnable {
    private static final int MAX_LINE = 8192;
    private static final int MAX_HEADER_BYTES = 64 * 1024;
    private static final int MAX_HEADERS = 100;

    /** What the connection needs from its server. */
    interface Handler {
        /** Answers a request: at once, or later from another thread; either way ends with {@link Exchange#done()}. */
        void handle(Exchange exchange);

        /** Whether the server is shutting down (then requests are refused and connections close). */
        boolean closing();

        /** The largest request body accepted. */
        int maxBodyBytes();

        /** How long a connection may wait for its next request. */
        int idleTimeoutMillis();

        void closed(HttpConnection connection);

        /** A malformed request: answered here, then the connection closes. */
        byte[] errorBody(ApiException e);
    }

    /** A request that cannot be read: answered with this status, then the connection is closed. */
    private static final class Malformed extends Exception {
        final int status;

        Malformed(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    private final Socket socket;
    private final Handler handler;
    private final InputStream in;
    private final OutputStream out;
    /** The exchange whose response is not complete yet, or null while waiting for a request; guarded by this. */
    private Exchange current;
    private boolean closed;

    HttpConnection(Socket socket, Handler handler) throws IOException {
        this.socket = socket;
        this.handler = handler;
        socket.setTcpNoDelay(true); // a streamed token must not wait for the previous one's ACK
        socket.setSoTimeout(handler.idleTimeoutMillis());
        this.in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
        this.out = new BufferedOutputStream(socket.getOutputStream(), 16 * 1024);
    }

    @Override
    public void run() {
        try {
            Exchange previous = null;
            while (true) {
                int next = peek();
                if (previous != null && !previous.isDone()) {
                    if (next == TIMEOUT) {
                        continue; // a long blend; the client is still there
                    }
                    if (next != DATA) {
                        previous.clientGone();
                    }
                    previous.awaitDone();
                }
                if (next != DATA || previous != null && previous.closesConnection()) {
                    return;
                }
                HttpRequest request;
                try {
                    request = read();
                } catch (Malformed e) {
                    refuse(e);
                    return;
                }
                if (request == null) {
                    return;
                }
                Exchange exchange;
                synchronized (this) {
                    if (closed) {
                        return;
                    }
                    exchange = new Exchange(request, this, out, handler::closing);
                    current = exchange;
                }
                handler.handle(exchange);
                previous = exchange;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // the connection broke while reading a request: nothing to answer
        } finally {
            close();
            handler.closed(this);
        }
    }

    private static final int DATA = 0;
    private static final int END = 1;
    private static final int TIMEOUT = 2;

    /** Waits for the next byte without consuming it: DATA, END (closed or broken) or TIMEOUT. */
    private int peek() {
        try {
            in.mark(1);
            int b = in.read();
            if (b < 0) {
                return END;
            }
            in.reset();
            return DATA;
        } catch (SocketTimeoutException e) {
            return TIMEOUT;
        } catch (IOException e) {
            return END;
        }
    }

    /** Closes the connection if it is between requests (at shutdown); a busy one closes after its response. */
    synchronized void closeIfIdle() {
        if (current == null || current.isDone()) {
            close();
        }
    }

    /** Closes the socket (idempotent); a thread blocked reading it returns. */
    synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    private void refuse(Malformed e) {
        byte[] body = handler.errorBody(new ApiException(e.status, ApiException.INVALID_REQUEST, null,
                "malformed_request", e.getMessage(), 0));
        String head = "HTTP/1.1 " + e.status + " " + Exchange.reason(e.status) + "\r\nServer: blender\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
        try {
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
        } catch (IOException ignored) {
            // the client is gone already
        }
    }

    /** Reads one request; null when the client closed before sending one. */
    private HttpRequest read() throws IOException, Malformed {
        String line = readLine();
        while (line != null && line.isEmpty()) {
            line = readLine(); // a stray CRLF between requests is allowed (RFC 9112 2.2)
        }
        if (line == null) {
            return null;
        }
        String[] parts = line.split(" ", -1);
        if (parts.length != 3 || parts[0].isEmpty() || parts[1].isEmpty()) {
            throw new Malformed(400, "malformed request line");
        }
        String version = parts[2];
        if (!version.equals("HTTP/1.1") && !version.equals("HTTP/1.0")) {
            throw new Malformed(505, "only HTTP/1.0 and HTTP/1.1 are served, not " + version);
        }
        Map<String, String> headers = new LinkedHashMap<>();
        int headerBytes = 0;
        while (true) {
            String h = readLine();
            if (h == null) {
                throw new Malformed(400, "the connection ended inside the headers");
            }
            if (h.isEmpty()) {
                break;
            }
            headerBytes += h.length();
            if (headerBytes > MAX_HEADER_BYTES || headers.size() >= MAX_HEADERS) {
                throw new Malformed(431, "too many or too large headers");
            }
            int colon = h.indexOf(':');
            if (colon <= 0 || h.charAt(0) == ' ' || h.charAt(0) == '\t' || Character.isWhitespace(h.charAt(colon - 1))) {
                throw new Malformed(400, "malformed header line");
            }
            String name = h.substring(0, colon).toLowerCase(Locale.ROOT);
            String value = h.substring(colon + 1).strip();
            headers.merge(name, value, (a, b) -> a + ", " + b);
        }
        if (headers.containsKey("transfer-encoding")) {
            throw new Malformed(411, "send the body with a Content-Length (Transfer-Encoding is not accepted)");
        }
        int length = 0;
        String cl = headers.get("content-length");
        if (cl != null) {
            long n;
            try {
                n = Long.parseLong(cl);
            } catch (NumberFormatException e) {
                throw new Malformed(400, "bad Content-Length " + cl);
            }
            if (n < 0) {
                throw new Malformed(400, "bad Content-Length " + cl);
            }
            if (n > handler.maxBodyBytes()) {
                throw new Malformed(413, "the body of " + n + " bytes is over the limit of " + handler.maxBodyBytes());
            }
            length = (int) n;
        }
        if (length > 0 && "100-continue".equalsIgnoreCase(headers.get("expect"))) {
            out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }
        byte[] body = in.readNBytes(length);
        if (body.length < length) {
            throw new Malformed(400, "the connection ended inside the body");
        }
        return new HttpRequest(parts[0], path(parts[1]), version, headers, body);
    }

    /** The path of a request target (origin form, or absolute form as a proxy would send), without its query. */
    private static String path(String target) {
        String t = target;
        if (t.startsWith("http://") || t.startsWith("https://")) {
            int slash = t.indexOf('/', t.indexOf("//") + 2);
            t = slash < 0 ? "/" : t.substring(slash);
        }
        int q = t.indexOf('?');
        return q < 0 ? t : t.substring(0, q);
    }

    /** A line ending in CRLF (or LF), in ISO-8859-1 as HTTP header bytes are; null at end of stream. */
    private String readLine() throws IOException, Malformed {
        ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        while (true) {
            int b = in.read();
            if (b < 0) {
                return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
            }
            if (b == '\n') {
                byte[] bytes = line.toByteArray();
                int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, n, StandardCharsets.ISO_8859_1);
            }
            if (line.size() >= MAX_LINE) {
                throw new Malformed(431, "a line of the request is over " + MAX_LINE + " bytes");
            }
            line.write(b);
        }
    }
}
