/* backend/respond.c: the response helpers, and the one place where an err becomes HTTP. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend/backend.h"
#include "common/log.h"
#include "common/util.h"

void backend_add_header(struct backend_req *r, const char *name, const char *value)
{
    r->headers = xrealloc(r->headers, (r->nheaders + 1) * sizeof(*r->headers));
    r->headers[r->nheaders].name = xstrdup(name);
    r->headers[r->nheaders].value = xstrdup(value);
    r->nheaders++;
}

void respond_take(struct backend_req *r, int status, const char *content_type, struct buf *b)
{
    buf_cleanup(&r->resp);
    r->resp = *b;
    r->resp.max = 0;
    buf_init(b, b->max);
    r->status = status;
    if (content_type != NULL)
        backend_add_header(r, "content-type", content_type);
}

void respond_bytes(struct backend_req *r, int status, const char *content_type, const void *data,
                   size_t len)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, data, len, NULL);
    respond_take(r, status, content_type, &b);
}

void respond_json(struct backend_req *r, int status, const char *json)
{
    respond_bytes(r, status, "application/json", json, strlen(json));
}

void respond_err(struct backend_req *r, const struct err *err, const char *allow)
{
    enum err_code code = err->code == ERR_OK ? ERR_INTERNAL : err->code;
    int status = err_http_status(code);
    /* Server-side failures may carry paths, endpoints or driver text in msg: keep them in the
     * log and give clients the table text only. */
    const char *message = err->msg[0] != '\0' && status < 500 ? err->msg : err_text(code);
    if (status >= 500) {
        const struct log_field f[] = {LOG_STR("req_id", r->request_id),
                                      LOG_STR("error", err_name(code)), LOG_INT("status", status)};
        log_fields(LOG_WARN, f, 3, "req=%s %s: %s", r->request_id, err_name(code),
                   err->msg[0] != '\0' ? err->msg : err_text(code));
    }
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(err_infra_code(code)));
    json_t *m = json_string(message);
    /* A message that is not valid UTF-8 cannot be a JSON string: use the table text. */
    json_object_set_new(o, "message", m != NULL ? m : json_string(err_text(code)));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    respond_json(r, status, s);
    free(s);
    int retry_after = err_retry_after_s(code);
    if (retry_after > 0) {
        char v[16];
        snprintf(v, sizeof(v), "%d", retry_after);
        backend_add_header(r, "retry-after", v);
    }
    /* No Basic challenge to the console's pages (a request with a cookie, or for the session
     * itself): a browser answers one with its own password prompt, over the page's fetch. */
    bool console = r->cookie != NULL || (r->path != NULL && strcmp(r->path, "/v1/session") == 0);
    if (status == 401 && !console)
        backend_add_header(r, "www-authenticate", "Basic realm=\"stated\"");
    if (status == 405 && allow != NULL)
        backend_add_header(r, "allow", allow);
}

void respond_error(struct backend_req *r, enum err_code code, const char *fmt, ...)
{
    struct err e = {.code = code};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
    va_end(ap);
    respond_err(r, &e, NULL);
}

void respond_locked(struct backend_req *r, const struct lock_holder *h, const char *message)
{
    char *info = lock_holder_info_json(h);
    if (message == NULL) {
        respond_json(r, 423, info);
        free(info);
        return;
    }
    json_t *o = json_loads(info, 0, NULL);
    free(info);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    json_t *m = json_string(message);
    json_object_set_new(o, "code", json_string(err_infra_code(ERR_LOCKED)));
    json_object_set_new(o, "message", m != NULL ? m : json_string(err_text(ERR_LOCKED)));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    respond_json(r, 423, s != NULL ? s : "{}");
    free(s);
}

void respond_op_error(struct backend_req *r, const struct op_result *res, const char *message)
{
    if (res->err.code == ERR_LOCKED && res->lock.holder.id[0] != '\0')
        respond_locked(r, &res->lock.holder, message);
    else
        respond_err(r, &res->err, NULL);
}

void respond_shared(struct backend_req *r, int status, const char *content_type, struct blob *body)
{
    buf_cleanup(&r->resp);
    blob_unref(r->resp_shared);
    r->resp_shared = body;
    r->status = status;
    if (content_type != NULL)
        backend_add_header(r, "content-type", content_type);
}
