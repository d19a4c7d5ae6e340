package dev.blender.runtime.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * An error answered in OpenAI's shape, {@code {"error": {"message", "type", "param", "code"}}}, with its
 * HTTP status and, for 429 and 503, how many seconds to wait before retrying.
 */
final class ApiException extends RuntimeException {
    static final String INVALID_REQUEST = "invalid_request_error";

    final int status;
    final String type;
    final String param;
    final String code;
    final int retryAfterSeconds;

    ApiException(int status, String type, String param, String code, String message, int retryAfterSeconds) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** A 400 about one parameter (null when it is about the whole body). */
    static ApiException badRequest(String param, String message) {
        return new ApiException(400, INVALID_REQUEST, param, param == null ? "invalid_body" : "invalid_value",
                message, 0);
    }

    static ApiException unsupported(String param, String message) {
        return new ApiException(400, INVALID_REQUEST, param, "unsupported_parameter", message, 0);
    }

    static ApiException modelNotFound(String model, String known) {
        return new ApiException(404, INVALID_REQUEST, "model", "model_not_found",
                "The model '" + model + "' does not exist; this server has " + known, 0);
    }

    static ApiException notFound(String message) {
        return new ApiException(404, INVALID_REQUEST, null, "not_found", message, 0);
    }

    ObjectNode toJson(ObjectMapper mapper) {
        ObjectNode root = mapper.createObjectNode();
        ObjectNode e = root.putObject("error");
        e.put("message", getMessage());
        e.put("type", type);
        e.put("param", param);
        e.put("code", code);
        return root;
    }
}
