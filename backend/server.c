/* backend/server.c: h2o event loops, the worker pool, jobs and streaming responses.
 *
 * N loop threads each own an h2o_evloop_t, an h2o_context_t and a listening socket bound with
 * SO_REUSEPORT to the same address, so the kernel spreads connections over them. Every request
 * becomes a job (see backend.h): the loop copies the request into job->r and finds its route
 * in the table server_run was given. The route's on_loop handler may answer at once; otherwise
 * the job is queued, a worker runs on_worker and posts the job back to the owning loop through
 * that loop's h2o_multithread receiver, and the loop sends the response. The server knows no
 * route of its own: what is served is the table's business (router.c).
 *
 * Job lifetime. The request can die while a worker holds the job (connection closed, HTTP/2
 * stream reset). An anchor allocated in req->pool with a dispose callback ties the two: when
 * the pool is cleared (on the loop thread) the anchor either frees the job (the response was
 * already handed to h2o and the worker is done with it) or marks it cancelled (the worker
 * still has it). A worker always posts exactly one final message per job; if the job was
 * cancelled by then, the loop frees it on receipt. So each job is freed exactly once, always
 * on its owning loop thread.
 *
 * Streaming (backend_stream_*). The worker fills a chunk, waits until the previous chunk is no
 * longer in flight, then posts the new one. The loop passes it to h2o_send; h2o calls the
 * generator's proceed callback once the bytes are written, which releases the worker. Two
 * flags under job->mu track a chunk: msg_queued (posted, not yet received by the loop) and
 * h2o_busy (given to h2o, proceed not yet called). The worker posts only when both are clear,
 * so a message is never linked twice. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "h2o.h"
#include "h2o/http2.h"

#include "backend/backend.h"
#include "common/log.h"
#include "common/util.h"

#define STREAM_CHUNK (64 * 1024)
#define DRAIN_MAX_MS 30000

struct loop {
    pthread_t tid;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_multithread_receiver_t recv;
    int fd;
};

struct anchor {
    struct backend_job *job;
};

struct backend_job {
    h2o_multithread_message_t super; /* linked into the owner's receiver queue */
    struct backend_job *next;        /* worker queue */
    struct loop *owner;
    h2o_req_t *req;        /* loop thread only; NULL once the request is gone */
    struct anchor *anchor; /* in req->pool */
    backend_handler_fn fn;
    struct backend_req r;
    h2o_generator_t gen; /* streaming: proceed releases the worker */
    bool responded;      /* loop: the final response went to h2o; the anchor frees the job */
    bool final;          /* worker -> loop: this message is the job's last */
    /* streaming, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool cancelled, msg_queued, h2o_busy;
    bool streaming, stream_started;
    struct buf fill, sending;
};

static struct {
    struct server *srv;
    const struct backend_route *routes;
    size_t nroutes;
    h2o_globalconf_t conf;
    struct loop *loops;
    int nloops;
    SSL_CTX *ssl;
    pthread_t *workers;
    int nworkers;
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct backend_job *qhead, *qtail;
    bool workers_stop;
    atomic_int pending; /* jobs alive */
    atomic_uint_fast64_t req_counter;
    unsigned boot_id;
} S = {.qmu = PTHREAD_MUTEX_INITIALIZER, .qcv = PTHREAD_COND_INITIALIZER};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 423:
        return "Locked";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

/* ------------------------------------------------------------------ jobs */

static void job_free(struct backend_job *job)
{
    struct backend_req *r = &job->r;
    free(r->path);
    free(r->query);
    free(r->body);
    free(r->content_md5);
    if (r->authorization != NULL) {
        memset(r->authorization, 0, strlen(r->authorization));
        free(r->authorization);
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    buf_cleanup(&r->resp);
    blob_unref(r->resp_shared);
    buf_cleanup(&job->fill);
    buf_cleanup(&job->sending);
    pthread_mutex_destroy(&job->mu);
    pthread_cond_destroy(&job->cv);
    free(job);
    atomic_fetch_sub(&S.pending, 1);
}

/* Runs on the loop thread when req->pool is cleared. */
static void on_anchor_dispose(void *p)
{
    struct anchor *a = p;
    struct backend_job *job = a->job;
    if (job == NULL)
        return;
    if (job->responded) {
        job_free(job);
        return;
    }
    job->req = NULL;
    job->anchor = NULL;
    pthread_mutex_lock(&job->mu);
    job->cancelled = true;
    job->h2o_busy = false; /* h2o will not call proceed any more */
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

static void on_stream_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct backend_job *job = H2O_STRUCT_FROM_MEMBER(struct backend_job, gen, gen);
    (void)req;
    pthread_mutex_lock(&job->mu);
    job->h2o_busy = false;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

static void on_stream_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    struct backend_job *job = H2O_STRUCT_FROM_MEMBER(struct backend_job, gen, gen);
    (void)req;
    pthread_mutex_lock(&job->mu);
    job->cancelled = true;
    job->h2o_busy = false;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

static void add_headers(h2o_req_t *req, struct backend_req *r)
{
    for (size_t i = 0; i < r->nheaders; i++)
        h2o_add_header_by_str(&req->pool, &req->res.headers, r->headers[i].name,
                              strlen(r->headers[i].name), 1, NULL, r->headers[i].value,
                              strlen(r->headers[i].value));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                          r->request_id, strlen(r->request_id));
}

/* Loop thread: sends a job's whole response (status, headers, body with Content-Length). */
static void send_response(struct backend_job *job)
{
    static h2o_generator_t plain = {NULL, NULL};
    h2o_req_t *req = job->req;
    struct backend_req *r = &job->r;
    req->res.status = r->status;
    req->res.reason = reason_phrase(r->status);
    h2o_iovec_t body = r->resp_shared != NULL
                           ? h2o_iovec_init(r->resp_shared->data, r->resp_shared->len)
                           : h2o_iovec_init(r->resp.data != NULL ? r->resp.data : "", r->resp.len);
    req->res.content_length = body.len;
    add_headers(req, r);
    job->responded = true; /* from here the anchor frees the job */
    h2o_start_response(req, &plain);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* Loop thread: sends the chunk a streaming worker handed over (the first one starts the
 * response). */
static void send_chunk(struct backend_job *job, bool final)
{
    h2o_req_t *req = job->req;
    struct backend_req *r = &job->r;
    if (!job->stream_started) {
        job->stream_started = true;
        req->res.status = r->status;
        req->res.reason = reason_phrase(r->status);
        add_headers(req, r);
        job->gen.proceed = on_stream_proceed;
        job->gen.stop = on_stream_stop;
        h2o_start_response(req, &job->gen);
    }
    h2o_iovec_t chunk =
        h2o_iovec_init(job->sending.data != NULL ? job->sending.data : "", job->sending.len);
    if (final)
        job->responded = true;
    h2o_send(req, &chunk, 1, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

/* Loop thread: a worker finished a job, or produced a chunk of a stream. */
static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&msg->link);
        struct backend_job *job = H2O_STRUCT_FROM_MEMBER(struct backend_job, super, msg);
        bool final = job->final;

        pthread_mutex_lock(&job->mu);
        job->msg_queued = false;
        bool cancelled = job->cancelled || job->req == NULL;
        if (!cancelled && job->streaming && !final)
            job->h2o_busy = true;
        pthread_cond_broadcast(&job->cv);
        pthread_mutex_unlock(&job->mu);

        if (cancelled) {
            if (final)
                job_free(job);
            continue;
        }
        if (!job->streaming)
            send_response(job);
        else
            send_chunk(job, final);
    }
}

static void log_request(struct backend_req *r)
{
    log_info("req=%s %s %s status=%d ms=%lld", r->request_id, r->method,
             r->log_name[0] != '\0' ? r->log_name : "-", r->status,
             (long long)(mono_ms() - r->start_ms));
}

/* Worker: waits until no chunk of this job is queued or inside h2o. */
static void stream_wait_idle(struct backend_job *job)
{
    while (job->msg_queued || job->h2o_busy)
        pthread_cond_wait(&job->cv, &job->mu);
}

/* Worker: hands job->fill to the loop as the next chunk (or the last one). */
static int stream_flush(struct backend_job *job, bool final)
{
    pthread_mutex_lock(&job->mu);
    stream_wait_idle(job);
    bool cancelled = job->cancelled;
    if (cancelled && !final) {
        pthread_mutex_unlock(&job->mu);
        return -1;
    }
    struct buf tmp = job->sending;
    job->sending = job->fill;
    job->fill = tmp;
    buf_reset(&job->fill);
    job->final = final;
    job->msg_queued = true;
    pthread_mutex_unlock(&job->mu);
    h2o_multithread_send_message(&job->owner->recv, &job->super);
    return cancelled ? -1 : 0;
}

int backend_stream_begin(struct backend_req *r)
{
    struct backend_job *job = r->job;
    if (r->status == 0)
        r->status = 200;
    job->streaming = true;
    buf_init(&job->fill, 0);
    buf_init(&job->sending, 0);
    log_request(r);
    /* The first message carries the status line and headers with an empty chunk. */
    return stream_flush(job, false);
}

int backend_stream_write(struct backend_req *r, const void *data, size_t len)
{
    struct backend_job *job = r->job;
    const char *p = data;
    if (!job->streaming)
        die_bug("backend_stream_write before backend_stream_begin");
    while (len > 0) {
        size_t room = STREAM_CHUNK - job->fill.len, n = len < room ? len : room;
        buf_append(&job->fill, p, n, NULL);
        p += n;
        len -= n;
        if (job->fill.len >= STREAM_CHUNK && stream_flush(job, false) != 0)
            return -1;
    }
    pthread_mutex_lock(&job->mu);
    bool cancelled = job->cancelled;
    pthread_mutex_unlock(&job->mu);
    return cancelled ? -1 : 0;
}

static void *worker_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&S.qmu);
        while (S.qhead == NULL && !S.workers_stop)
            pthread_cond_wait(&S.qcv, &S.qmu);
        if (S.qhead == NULL) {
            pthread_mutex_unlock(&S.qmu);
            return NULL;
        }
        struct backend_job *job = S.qhead;
        S.qhead = job->next;
        if (S.qhead == NULL)
            S.qtail = NULL;
        pthread_mutex_unlock(&S.qmu);

        pthread_mutex_lock(&job->mu);
        bool cancelled = job->cancelled;
        pthread_mutex_unlock(&job->mu);
        if (!cancelled) {
            job->fn(&job->r);
        } else {
            job->r.status = 499; /* client went away before we started: nothing is done */
        }
        if (job->streaming) {
            stream_flush(job, true);
            continue;
        }
        if (job->r.status == 0)
            respond_error(&job->r, ERR_INTERNAL, "handler set no response");
        log_request(&job->r);
        job->final = true;
        pthread_mutex_lock(&job->mu);
        job->msg_queued = true;
        pthread_mutex_unlock(&job->mu);
        h2o_multithread_send_message(&job->owner->recv, &job->super);
    }
}

static char *iov_dup(h2o_iovec_t v)
{
    return v.base == NULL ? NULL : xstrndup(v.base, v.len);
}

static char *header_dup(h2o_req_t *req, const h2o_token_t *tok, const char *name, size_t len)
{
    ssize_t i = tok != NULL ? h2o_find_header(&req->headers, tok, -1)
                            : h2o_find_header_by_str(&req->headers, name, len, -1);
    return i < 0 ? NULL : iov_dup(req->headers.entries[i].value);
}

static void new_request_id(char out[24])
{
    uint64_t n = atomic_fetch_add(&S.req_counter, 1) + 1;
    snprintf(out, 24, "%08x%08llx", S.boot_id, (unsigned long long)n);
}

static void remote_addr(h2o_req_t *req, char out[64])
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    out[0] = '\0';
    if (len == 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, 64);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, 64);
}

/* Loop thread: a job holding a private copy of what handlers need out of req. */
static struct backend_job *job_new(h2o_req_t *req, size_t path_len)
{
    struct loop *lt = H2O_STRUCT_FROM_MEMBER(struct loop, ctx, req->conn->ctx);
    struct backend_job *job = xcalloc(1, sizeof(*job));
    struct backend_req *r = &job->r;
    atomic_fetch_add(&S.pending, 1);
    pthread_mutex_init(&job->mu, NULL);
    pthread_cond_init(&job->cv, NULL);
    job->owner = lt;
    job->req = req;
    job->anchor = h2o_mem_alloc_shared(&req->pool, sizeof(*job->anchor), on_anchor_dispose);
    job->anchor->job = job;
    r->job = job;
    r->srv = S.srv;
    r->start_ms = mono_ms();
    new_request_id(r->request_id);
    snprintf(r->method, sizeof(r->method), "%.*s", (int)req->method.len, req->method.base);
    r->path = xstrndup(req->path.base, path_len);
    snprintf(r->log_name, sizeof(r->log_name), "%s", r->path);
    if (req->query_at != SIZE_MAX)
        r->query = xstrndup(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
    if (req->entity.base != NULL) {
        r->body = xstrndup(req->entity.base, req->entity.len);
        r->body_len = req->entity.len;
    }
    r->content_md5 = header_dup(req, NULL, H2O_STRLIT("content-md5"));
    r->authorization = header_dup(req, H2O_TOKEN_AUTHORIZATION, NULL, 0);
    remote_addr(req, r->remote);
    buf_init(&r->resp, 0);
    return job;
}

/* Loop thread: hands the job to the workers. */
static void job_queue(struct backend_job *job, backend_handler_fn fn)
{
    job->fn = fn;
    pthread_mutex_lock(&S.qmu);
    if (S.qtail != NULL)
        S.qtail->next = job;
    else
        S.qhead = job;
    S.qtail = job;
    pthread_cond_signal(&S.qcv);
    pthread_mutex_unlock(&S.qmu);
}

static const struct backend_route *route_for(const char *path, size_t len)
{
    for (size_t i = 0; i < S.nroutes; i++) {
        const char *p = S.routes[i].path;
        size_t n = strlen(p);
        bool prefix = n == 0 || p[n - 1] == '/';
        if (prefix ? len >= n && memcmp(path, p, n) == 0 : h2o_memis(path, len, p, n))
            return &S.routes[i];
    }
    return NULL;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const struct backend_route *rt = route_for(req->path.base, path_len);
    struct backend_job *job = job_new(req, path_len);
    bool answered = rt != NULL && rt->on_loop != NULL && rt->on_loop(&job->r);
    if (!answered && rt != NULL && rt->on_worker != NULL) {
        job_queue(job, rt->on_worker);
        return 0;
    }
    if (!answered) /* no route, or one that passed with no worker to go to */
        respond_error(&job->r, ERR_NOT_FOUND, "no such endpoint");
    log_request(&job->r);
    send_response(job);
    return 0;
}

/* ------------------------------------------------------------------ listeners and loops */

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    struct loop *lt = listener->data;
    h2o_socket_t *sock;
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&lt->accept_ctx, sock);
}

static int resolve_listen(const char *listen, struct addrinfo **res, struct err *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= sizeof(host))
        return err_set(err, ERR_INVALID, "--listen %s: host too long", listen);
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    int rc = getaddrinfo(host[0] != '\0' ? host : NULL, colon + 1, &hints, res);
    if (rc != 0)
        return err_set(err, ERR_INVALID, "--listen %s: %s", listen, gai_strerror(rc));
    return 0;
}

static int bind_one(const struct addrinfo *ai, bool reuseport, struct err *err)
{
    int on = 1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_set_errno(err, ERR_INVALID, errno, "socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
        close(fd);
        return err_set_errno(err, ERR_INVALID, errno, "SO_REUSEPORT");
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        return err_set_errno(err, ERR_INVALID, e, "cannot listen on %s", S.srv->cfg->listen);
    }
    return fd;
}

static int open_listeners(struct err *err)
{
    struct addrinfo *res;
    if (resolve_listen(S.srv->cfg->listen, &res, err) != 0)
        return -1;
    /* SO_REUSEPORT would let a second server bind the same port silently and share its
     * traffic: probe once without it so a port in use is reported. */
    int probe = bind_one(res, false, err);
    if (probe < 0) {
        freeaddrinfo(res);
        return -1;
    }
    close(probe);
    for (int i = 0; i < S.nloops; i++) {
        S.loops[i].fd = bind_one(res, true, err);
        if (S.loops[i].fd < 0) {
            freeaddrinfo(res);
            return -1;
        }
    }
    freeaddrinfo(res);
    return 0;
}

static void *loop_main(void *arg)
{
    struct loop *lt = arg;
    lt->loop = h2o_evloop_create();
    h2o_context_init(&lt->ctx, lt->loop, &S.conf);
    h2o_multithread_register_receiver(lt->ctx.queue, &lt->recv, on_messages);
    lt->accept_ctx.ctx = &lt->ctx;
    lt->accept_ctx.hosts = S.conf.hosts;
    lt->accept_ctx.ssl_ctx = S.ssl;
    h2o_socket_t *ls = h2o_evloop_socket_create(lt->loop, lt->fd, H2O_SOCKET_FLAG_DONT_READ);
    ls->data = lt;
    h2o_socket_read_start(ls, on_accept);
    while (!stopping)
        h2o_evloop_run(lt->loop, 200);
    /* Stop accepting; let requests already received finish. */
    h2o_socket_read_stop(ls);
    h2o_socket_close(ls);
    h2o_context_request_shutdown(&lt->ctx);
    int64_t t0 = mono_ms();
    while (mono_ms() - t0 < DRAIN_MAX_MS) {
        h2o_evloop_run(lt->loop, 50);
        if (atomic_load(&S.pending) == 0 && mono_ms() - t0 >= 100)
            break;
    }
    /* A few more turns to flush the last responses. */
    for (int i = 0; i < 4; i++)
        h2o_evloop_run(lt->loop, 10);
    return NULL;
}

static int tls_setup(struct err *err)
{
    const struct config *cfg = S.srv->cfg;
    if (cfg->tls_cert == NULL)
        return 0;
    SSL_CTX *ssl = SSL_CTX_new(TLS_server_method());
    if (ssl == NULL)
        return err_set(err, ERR_INTERNAL, "SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    char why[256];
    if (SSL_CTX_use_certificate_chain_file(ssl, cfg->tls_cert) != 1) {
        ERR_error_string_n(ERR_get_error(), why, sizeof(why));
        err_set(err, ERR_INVALID, "--tls-cert %s: %s", cfg->tls_cert, why);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ssl, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ssl) != 1) {
        ERR_error_string_n(ERR_get_error(), why, sizeof(why));
        err_set(err, ERR_INVALID, "--tls-key %s: %s", cfg->tls_key, why);
        goto fail;
    }
    if (cfg->client_ca != NULL) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->client_ca);
        if (names == NULL || SSL_CTX_load_verify_locations(ssl, cfg->client_ca, NULL) != 1) {
            ERR_error_string_n(ERR_get_error(), why, sizeof(why));
            err_set(err, ERR_INVALID, "--client-ca %s: %s", cfg->client_ca, why);
            if (names != NULL)
                sk_X509_NAME_pop_free(names, X509_NAME_free);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ssl, names);
        SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        /* Resumed sessions must carry the verified client identity. */
        SSL_CTX_set_session_id_context(ssl, (const unsigned char *)"stated", 6);
    }
    h2o_ssl_register_alpn_protocols(ssl, h2o_http2_alpn_protocols);
    S.ssl = ssl;
    return 0;
fail:
    SSL_CTX_free(ssl);
    return -1;
}

int server_run(struct server *srv, const struct backend_route *routes, size_t nroutes,
               struct err *err)
{
    const struct config *cfg = srv->cfg;
    S.srv = srv;
    S.routes = routes;
    S.nroutes = nroutes;
    S.nloops = (int)cfg->threads;
    S.nworkers = (int)cfg->workers;
    random_bytes(&S.boot_id, sizeof(S.boot_id));

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    h2o_config_init(&S.conf);
    S.conf.server_name = h2o_iovec_init(H2O_STRLIT("stated"));
    S.conf.max_request_entity_size = (size_t)cfg->max_state_bytes;
    h2o_hostconf_t *host =
        h2o_config_register_host(&S.conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(pc, sizeof(*h));
    h->on_req = on_req;
    /* h2o answers an over-limit Content-Length itself, before routing, in plain text. Its
     * error-document filter on the fallback path turns that into an internal GET of
     * BACKEND_TOO_LARGE_PATH, which a route answers with the usual JSON error body. */
    h2o_errordoc_t doc = {.status = 413, .url = h2o_iovec_init(H2O_STRLIT(BACKEND_TOO_LARGE_PATH))};
    h2o_errordoc_register(&host->fallback_path, &doc, 1);

    if (tls_setup(err) != 0)
        return -1;
    S.loops = xcalloc((size_t)S.nloops, sizeof(*S.loops));
    if (open_listeners(err) != 0)
        return -1;
    S.workers = xcalloc((size_t)S.nworkers, sizeof(*S.workers));
    for (int i = 0; i < S.nworkers; i++)
        pthread_create(&S.workers[i], NULL, worker_main, NULL);
    for (int i = 0; i < S.nloops; i++)
        pthread_create(&S.loops[i].tid, NULL, loop_main, &S.loops[i]);
    log_info("stated listening on %s://%s (%d loops, %d workers%s)",
             S.ssl != NULL ? "https" : "http", cfg->listen, S.nloops, S.nworkers,
             cfg->client_ca != NULL ? ", client certificates required" : "");

    for (int i = 0; i < S.nloops; i++)
        pthread_join(S.loops[i].tid, NULL);
    int left = atomic_load(&S.pending);
    if (left > 0) {
        log_warn("stopping with %d requests still in progress", left);
        return 1;
    }
    pthread_mutex_lock(&S.qmu);
    S.workers_stop = true;
    pthread_cond_broadcast(&S.qcv);
    pthread_mutex_unlock(&S.qmu);
    for (int i = 0; i < S.nworkers; i++)
        pthread_join(S.workers[i], NULL);
    log_info("stopped");
    return 0;
}
