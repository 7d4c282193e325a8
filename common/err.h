/* common/err.h: the one error type and the one table of error codes.
 *
 * Every fallible function returns 0 (or a pointer) on success and -1 (or NULL) on failure, and
 * takes a caller-owned `struct err *err` as its last argument. The first error recorded wins:
 * later err_set calls on the same struct are ignored, so the deepest, most precise cause is the
 * one reported. Only backend/respond.c turns an err into HTTP; the table below gives the status,
 * the stable INFRA code and the text a client sees. `msg` is detail for logs and CLI output:
 * it never contains a token or state content. Codes are stable once shipped: never renumber or
 * reuse one. */
#ifndef STATED_COMMON_ERR_H
#define STATED_COMMON_ERR_H

#include <stdarg.h>

/*  symbol           HTTP  code         default text (safe to show to any client) */
#define ERR_TABLE(X)                                                                               \
    X(ERR_OK, 200, "", "ok")                                                                       \
    X(ERR_INVALID, 400, "INFRA_001", "invalid request or configuration")                           \
    X(ERR_METHOD, 405, "INFRA_001", "method not allowed on this URL")                              \
    X(ERR_TOO_LARGE, 413, "INFRA_002", "state larger than the limit")                              \
    X(ERR_AUTH, 401, "INFRA_003", "missing or invalid credentials")                                \
    X(ERR_FORBIDDEN, 403, "INFRA_003", "token may not do this")                                    \
    X(ERR_NOT_FOUND, 404, "INFRA_004", "not found")                                                \
    X(ERR_WRITE, 503, "INFRA_005", "state write failed")                                           \
    X(ERR_UNAVAILABLE, 503, "INFRA_005", "storage or lock service unavailable, retry later")       \
    X(ERR_INTERNAL, 500, "INFRA_005", "internal error")                                            \
    X(ERR_HEALTH, 503, "INFRA_006", "health check failed")                                         \
    X(ERR_SNAPSHOT, 500, "INFRA_007", "backup or snapshot failed")                                 \
    X(ERR_LOCKED, 423, "INFRA_008", "state is locked")                                             \
    X(ERR_TIMEOUT, 408, "INFRA_001", "request not received in time")                               \
    X(ERR_URI_TOO_LONG, 414, "INFRA_002", "request target too long")                               \
    X(ERR_HEADERS_TOO_LARGE, 431, "INFRA_002", "request header fields too large")                  \
    X(ERR_NOT_IMPLEMENTED, 501, "INFRA_001", "not implemented")                                    \
    X(ERR_VERSION, 505, "INFRA_001", "HTTP version not supported")                                 \
    X(ERR_RATE_LIMITED, 429, "INFRA_003", "too many failed logins from this address, retry later") \
    X(ERR_ISSUER_UNAVAILABLE, 503, "INFRA_005",                                                    \
      "the OIDC issuer's signing keys are not available yet, retry later (tokens still work)")

enum err_code {
#define X(sym, http, code, text) sym,
    ERR_TABLE(X)
#undef X
};

struct err {
    enum err_code code; /* ERR_OK until something fails */
    char msg[240];      /* detail for logs and operators; never secrets or state bytes */
};

/* Records the failure unless one is already recorded; always returns -1. */
int err_set(struct err *e, enum err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, appending ": strerror(errno_value)". */
int err_set_errno(struct err *e, enum err_code code, int errno_value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Forgets a recorded error (for callers that handle one and go on). */
void err_clear(struct err *e);

int err_http_status(enum err_code code);
const char *err_infra_code(enum err_code code); /* "INFRA_004"; "" for ERR_OK */
const char *err_text(enum err_code code);       /* the table's default text */
const char *err_name(enum err_code code);       /* "ERR_NOT_FOUND" */
/* Seconds a client should wait before retrying a failure of this kind (the Retry-After the
 * server sends), 0 when retrying will not help: 5xx other than internal bugs, and the
 * failed-login limit (whose window is one minute). */
int err_retry_after_s(enum err_code code);

#endif
