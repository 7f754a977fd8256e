package dev.lockstep.server;

/**
 * An error answered in the OpenAI error shape:
 * {@code {"error": {"message", "type", "param", "code"}}} with an HTTP status.
 */
final class ApiException extends RuntimeException {
    final int status;
    final String type;
    final String param;
    final String code;

    ApiException(int status, String type, String param, String code, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    static ApiException badRequest(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, null, message);
    }

    static ApiException notFound(String code, String message) {
        return new ApiException(404, "invalid_request_error", null, code, message);
    }

    static ApiException unavailable(String message) {
        return new ApiException(503, "service_unavailable", null, null, message);
    }
}
