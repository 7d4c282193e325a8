/* common/err.c: see err.h. */
#include "common/err.h"

#include <stdio.h>
#include <string.h>

static const struct {
    int http;
    const char *code, *text, *name;
} err_rows[] = {
#define X(sym, http, code, text) [sym] = {http, code, text, #sym},
    ERR_TABLE(X)
#undef X
};

#define ERR_ROWS (sizeof(err_rows) / sizeof(err_rows[0]))

static int err_vset(struct err *e, enum err_code code, int errno_value, const char *fmt, va_list ap)
{
    if (e == NULL || e->code != ERR_OK)
        return -1;
    e->code = code;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    if (errno_value != 0) {
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errno_value));
    }
    return -1;
}

int err_set(struct err *e, enum err_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, 0, fmt, ap);
    va_end(ap);
    return -1;
}

int err_set_errno(struct err *e, enum err_code code, int errno_value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, errno_value, fmt, ap);
    va_end(ap);
    return -1;
}

void err_clear(struct err *e)
{
    e->code = ERR_OK;
    e->msg[0] = '\0';
}

int err_http_status(enum err_code code)
{
    return (size_t)code < ERR_ROWS ? err_rows[code].http : 500;
}

const char *err_infra_code(enum err_code code)
{
    return (size_t)code < ERR_ROWS ? err_rows[code].code : "INFRA_005";
}

const char *err_text(enum err_code code)
{
    return (size_t)code < ERR_ROWS ? err_rows[code].text : "internal error";
}

const char *err_name(enum err_code code)
{
    return (size_t)code < ERR_ROWS ? err_rows[code].name : "ERR_?";
}

int err_retry_after_s(enum err_code code)
{
    if (code == ERR_RATE_LIMITED)
        return 60;
    return code == ERR_WRITE || code == ERR_UNAVAILABLE || code == ERR_HEALTH ||
                   code == ERR_ISSUER_UNAVAILABLE
               ? 2
               : 0;
}
