/* backend/h2.c: HTTP/2 requests, through h2o, as jobs.
 *
 * h2o parses HTTP/2 (and its TLS), reads each request's body and calls on_req; everything
 * after that is ours: the request becomes a job (server.c), and its answer goes back through
 * h2o_send. HTTP/2 carries the method and path as pseudo-header values that may hold any
 * byte, so they are checked here as HTTP/1.1's request line would be (a token; visible ASCII)
 * before anything logs them. A body over the limit never reaches us: h2o resets its stream
 * (README "HTTP").
 *
 * Job lifetime. The request can die while a worker holds the job (connection closed, stream
 * reset). An anchor allocated in req->pool with a dispose callback ties the two: when the pool
 * is cleared (on the loop thread) the anchor either frees the job (the answer was already
 * handed to h2o) or tells server.c the client is gone (the worker still has it). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "h2o.h"

#include "backend/backend_int.h"
#include "common/util.h"

struct h2_anchor {
    struct backend_job *job;
};

static void add_headers(h2o_req_t *req, const struct backend_req *r)
{
    for (size_t i = 0; i < r->nheaders; i++)
        h2o_add_header_by_str(&req->pool, &req->res.headers, r->headers[i].name,
                              strlen(r->headers[i].name), 1, NULL, r->headers[i].value,
                              strlen(r->headers[i].value));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                          r->request_id, strlen(r->request_id));
}

static void h2_respond(struct backend_job *job)
{
    static h2o_generator_t plain = {NULL, NULL};
    h2o_req_t *req = job->client;
    struct backend_req *r = &job->r;
    req->res.status = r->status;
    req->res.reason = http_reason(r->status);
    h2o_iovec_t body = r->resp_shared != NULL
                           ? h2o_iovec_init(r->resp_shared->data, r->resp_shared->len)
                           : h2o_iovec_init(r->resp.data != NULL ? r->resp.data : "", r->resp.len);
    req->res.content_length = body.len;
    add_headers(req, r);
    h2o_start_response(req, &plain);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

static void on_stream_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    job_chunk_sent(H2O_STRUCT_FROM_MEMBER(struct backend_job, gen, gen));
}

static void on_stream_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    struct backend_job *job = H2O_STRUCT_FROM_MEMBER(struct backend_job, gen, gen);
    pthread_mutex_lock(&job->mu);
    job->cancelled = true;
    pthread_mutex_unlock(&job->mu);
    job_chunk_sent(job);
}

static void h2_stream(struct backend_job *job, bool final)
{
    h2o_req_t *req = job->client;
    struct backend_req *r = &job->r;
    if (!job->stream_started) {
        job->stream_started = true;
        req->res.status = r->status;
        req->res.reason = http_reason(r->status);
        add_headers(req, r);
        job->gen.proceed = on_stream_proceed;
        job->gen.stop = on_stream_stop;
        h2o_start_response(req, &job->gen);
    }
    h2o_iovec_t chunk =
        h2o_iovec_init(job->sending.data != NULL ? job->sending.data : "", job->sending.len);
    h2o_send(req, &chunk, 1, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static const struct transport_ops h2_ops = {.respond = h2_respond, .stream = h2_stream};

/* Runs on the loop thread when req->pool is cleared. */
static void on_anchor_dispose(void *p)
{
    struct h2_anchor *a = p;
    if (a->job != NULL)
        job_client_gone(a->job);
}

static char *header_dup(h2o_req_t *req, const h2o_token_t *tok, const char *name, size_t len)
{
    ssize_t i = tok != NULL ? h2o_find_header(&req->headers, tok, -1)
                            : h2o_find_header_by_str(&req->headers, name, len, -1);
    return i < 0 ? NULL
                 : xstrndup(req->headers.entries[i].value.base, req->headers.entries[i].value.len);
}

/* Every occurrence of a list-valued header joined by ", " (a proxy may add its own line). */
static char *header_join(h2o_req_t *req, const h2o_token_t *tok)
{
    struct buf b;
    struct err e = {0};
    buf_init(&b, 0);
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, tok, i)) >= 0;) {
        if ((b.len > 0 && buf_append_str(&b, ", ", &e) != 0) ||
            buf_append(&b, req->headers.entries[i].value.base, req->headers.entries[i].value.len,
                       &e) != 0)
            break;
    }
    return b.data != NULL ? buf_take(&b, NULL) : NULL;
}

static void remote_addr(h2o_req_t *req, char out[64])
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    backend_remote_text((struct sockaddr *)&ss, len, out);
}

/* What a request line would allow: a token method, a path of visible ASCII from '/'. */
static bool pseudo_headers_ok(h2o_iovec_t method, h2o_iovec_t path)
{
    if (!http1_is_token(method.base, method.len) || method.len > HTTP1_METHOD_MAX)
        return false;
    if (path.len == 0 || path.base[0] != '/')
        return false;
    for (size_t i = 0; i < path.len; i++)
        if ((unsigned char)path.base[i] < 0x21 || (unsigned char)path.base[i] > 0x7e)
            return false;
    return true;
}

/* Copies method, path and query. */
static void copy_target(struct backend_req *r, h2o_iovec_t method, h2o_iovec_t path)
{
    const char *q = memchr(path.base, '?', path.len);
    size_t plen = q != NULL ? (size_t)(q - path.base) : path.len;
    snprintf(r->method, sizeof(r->method), "%.*s", (int)method.len, method.base);
    r->path = xstrndup(path.base, plen);
    if (q != NULL)
        r->query = xstrndup(q + 1, path.len - plen - 1);
    backend_log_name(r, r->path);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    struct loop *lt = H2O_STRUCT_FROM_MEMBER(struct loop, ctx, req->conn->ctx);
    struct backend_job *job = job_new(lt, &h2_ops, req);
    struct backend_req *r = &job->r;
    job->anchor = h2o_mem_alloc_shared(&req->pool, sizeof(*job->anchor), on_anchor_dispose);
    job->anchor->job = job;
    remote_addr(req, r->remote);
    r->content_md5 = header_dup(req, NULL, H2O_STRLIT("content-md5"));
    r->authorization = header_dup(req, H2O_TOKEN_AUTHORIZATION, NULL, 0);
    r->forwarded_for = header_join(req, H2O_TOKEN_X_FORWARDED_FOR);
    r->forwarded_proto = header_dup(req, NULL, H2O_STRLIT("x-forwarded-proto"));
    r->cookie = header_join(req, H2O_TOKEN_COOKIE);
    r->csrf_token = header_dup(req, NULL, H2O_STRLIT("x-csrf-token"));
    r->if_none_match = header_dup(req, H2O_TOKEN_IF_NONE_MATCH, NULL, 0);
    if (!pseudo_headers_ok(req->method, req->path)) {
        snprintf(r->method, sizeof(r->method), "-");
        r->path = xstrdup("-");
        struct err e = {0};
        err_set(&e, ERR_INVALID, "malformed :method or :path");
        job_refuse(job, &e);
        return 0;
    }
    copy_target(r, req->method, req->path);
    if (req->entity.base != NULL) {
        r->body = xstrndup(req->entity.base, req->entity.len);
        r->body_len = req->entity.len;
    }
    job_dispatch(job);
    return 0;
}

void h2_setup(h2o_globalconf_t *conf, size_t max_body)
{
    conf->max_request_entity_size = max_body;
    h2o_hostconf_t *host =
        h2o_config_register_host(conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(pc, sizeof(*h));
    h->on_req = on_req;
}
