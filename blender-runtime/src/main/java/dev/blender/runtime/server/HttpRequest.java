package dev.blender.runtime.server;

import java.util.Locale;
import java.util.Map;

/**
 * One HTTP/1.x request as read off the socket.
 *
 * @param path    the target's path, without the query
 * @param headers by lower-case name; repeated headers joined with ", "
 */
record HttpRequest(String method, String path, String version, Map<String, String> headers, byte[] body) {

    String header(String name) {
        return headers.get(name.toLowerCase(Locale.ROOT));
    }

    /** HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when asked to keep it. */
    boolean keepAlive() {
        String c = header("connection");
        String tokens = c == null ? "" : c.toLowerCase(Locale.ROOT);
        return version.equals("HTTP/1.0") ? tokens.contains("keep-alive") : !tokens.contains("close");
    }
}
