/* backend/server.c: event loops, listeners, TLS, the worker pool, jobs and streaming.
 *
 * N loop threads each own an h2o_evloop_t, an h2o_context_t and a listening socket bound with
 * SO_REUSEPORT to the same address, so the kernel spreads connections over them. An accepted
 * connection is served by our HTTP/1.1 implementation (http1.c), or by h2o when TLS's ALPN
 * (or a plain-text client's first bytes) says HTTP/2 (h2.c). Either turns each request into a
 * job (backend_int.h) and hands it to job_dispatch, which finds its route in the table
 * server_run was given: the route's on_loop handler may answer at once; otherwise the job is
 * queued, a worker runs on_worker and posts the job back to the owning loop through that
 * loop's h2o_multithread receiver, and the loop hands the answer to the job's transport. The
 * server knows no route of its own: what is served is the table's business (router.c).
 *
 * Streaming (backend_stream_*). The worker fills a chunk, waits until the previous chunk is no
 * longer in flight, then posts the new one. The loop passes it to the transport, which calls
 * job_chunk_sent once the bytes are written; that releases the worker. Two flags under
 * job->mu track a chunk: msg_queued (posted, not yet received by the loop) and in_transport
 * (given to the transport, not yet written). The worker posts only when both are clear, so a
 * message is never linked twice. */
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

#include "backend/backend_int.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "common/version.h"

#define STREAM_CHUNK (64 * 1024)
#define DRAIN_MAX_MS 30000

static struct {
    struct server *srv;
    const struct backend_route *routes, *metrics_routes;
    size_t nroutes, metrics_nroutes;
    h2o_globalconf_t conf;
    struct loop *loops;
    int nloops; /* --threads, then one more for --metrics-listen */
    int nmain;  /* the loops of --listen */
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

struct server *server_self(void)
{
    return S.srv;
}

const char *http_reason(int status)
{
    static const struct {
        int status;
        const char *text;
    } reasons[] = {
        {200, "OK"},
        {201, "Created"},
        {301, "Moved Permanently"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {423, "Locked"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return "Status";
}

/* ------------------------------------------------------------------ jobs */

/* This process's random boot id as 8 hex digits, then the request counter in hex (at least 8
 * digits): unique across restarts and instances, and cheap (one per request). */
static void new_request_id(char out[24])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t n = atomic_fetch_add(&S.req_counter, 1) + 1;
    size_t o = 0;
    for (int shift = 28; shift >= 0; shift -= 4)
        out[o++] = hex[(S.boot_id >> shift) & 15];
    int digits = 8;
    while (digits < 15 && (n >> (4 * digits)) != 0)
        digits++;
    for (int d = digits - 1; d >= 0; d--)
        out[o++] = hex[(n >> (4 * d)) & 15];
    out[o] = '\0';
}

struct backend_job *job_new(struct loop *lt, const struct transport_ops *tp, void *client)
{
    struct backend_job *job = xcalloc(1, sizeof(*job));
    struct backend_req *r = &job->r;
    atomic_fetch_add(&S.pending, 1);
    pthread_mutex_init(&job->mu, NULL);
    pthread_cond_init(&job->cv, NULL);
    job->owner = lt;
    job->tp = tp;
    job->client = client;
    r->job = job;
    r->srv = S.srv;
    r->start_us = mono_us();
    r->start_ms = r->start_us / 1000;
    new_request_id(r->request_id);
    r->tls = S.ssl != NULL; /* with TLS configured, every connection is TLS */
    buf_init(&r->resp, 0);
    return job;
}

void job_free(struct backend_job *job)
{
    struct backend_req *r = &job->r;
    free(r->path);
    free(r->query);
    free(r->body);
    free(r->content_md5);
    free(r->forwarded_for);
    free(r->forwarded_proto);
    free(r->if_none_match);
    /* Credentials: the header, the session cookie that stands for one, the CSRF token. */
    char *secrets[] = {r->authorization, r->cookie, r->csrf_token};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        if (secrets[i] != NULL)
            memset(secrets[i], 0, strlen(secrets[i]));
        free(secrets[i]);
    }
    memset(r->session_csrf, 0, sizeof(r->session_csrf));
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

/* Collector of stated_http_requests_in_flight: the jobs alive, which the server counts anyway,
 * read at a scrape rather than bumped twice per request. */
static void collect_in_flight(void *ctx)
{
    (void)ctx;
    backend_metrics_in_flight(atomic_load(&S.pending));
}

void job_log(const struct backend_req *r)
{
    backend_metrics_request(r);
    if (log_min_level < LOG_INFO)
        return;
    long long ms = (long long)(mono_ms() - r->start_ms);
    const char *method = r->method[0] ? r->method : "-";
    const char *name = r->log_name[0] != '\0' ? r->log_name : "-";
    long long out = r->job->streaming        ? -1 /* streamed: not known yet */
                    : r->resp_shared != NULL ? (long long)r->resp_shared->len
                                             : (long long)r->resp.len;
    /* Never the Authorization header, a cookie or a body: who, what and how it went. */
    const struct log_field f[] = {
        LOG_STR("req_id", r->request_id),
        LOG_STR("method", method),
        LOG_STR("route", r->route != NULL ? r->route : "other"),
        LOG_STR("state", r->state),
        LOG_STR("path", r->state[0] == '\0' ? r->log_name : NULL),
        LOG_STR("actor", r->authenticated ? r->who.name : NULL),
        LOG_STR("user", r->authenticated ? r->who.username : NULL),
        LOG_INT("status", r->status),
        LOG_INT("ms", ms),
        LOG_INT("bytes_in", r->body_len),
        LOG_INT("bytes_out", out),
        LOG_STR("lock_id", r->lock_id),
    };
    log_fields(LOG_INFO, f, sizeof(f) / sizeof(f[0]), "req=%s %s %s status=%d ms=%lld",
               r->request_id, method, name, r->status, ms);
}

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

static const struct backend_route *route_for(const struct loop *lt, const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < lt->nroutes; i++) {
        const char *p = lt->routes[i].path;
        size_t n = strlen(p);
        bool prefix = n == 0 || p[n - 1] == '/';
        if (prefix ? len >= n && memcmp(path, p, n) == 0 : strcmp(path, p) == 0)
            return &lt->routes[i];
    }
    return NULL;
}

/* Loop thread: the answer is set; the transport takes the job. */
static void answer_now(struct backend_job *job)
{
    job_log(&job->r);
    job->responded = true;
    job->tp->respond(job);
}

/* The client behind a trusted proxy (common/net.h): remote becomes the client X-Forwarded-For
 * names, peer the connection's address. */
static void resolve_client(struct backend_req *r)
{
    char client[64];
    if (net_forwarded_client(&r->srv->trusted_proxies, r->remote, r->forwarded_for, client)) {
        memcpy(r->peer, r->remote, sizeof(r->peer));
        snprintf(r->remote, sizeof(r->remote), "%s", client);
    }
}

void job_dispatch(struct backend_job *job)
{
    resolve_client(&job->r);
    const struct backend_route *rt = route_for(job->owner, job->r.path);
    bool answered = rt != NULL && rt->on_loop != NULL && rt->on_loop(&job->r);
    if (!answered && rt != NULL && rt->on_worker != NULL) {
        job_queue(job, rt->on_worker);
        return;
    }
    if (!answered) /* no route, or one that passed with no worker to go to */
        respond_error(&job->r, ERR_NOT_FOUND, "no such endpoint");
    answer_now(job);
}

void job_refuse(struct backend_job *job, const struct err *why)
{
    resolve_client(&job->r);
    job->r.refusal = *why;
    respond_err(&job->r, why, NULL);
    job->must_run = true;
    job_queue(job, backend_audit_refusal);
}

void job_client_gone(struct backend_job *job)
{
    job->client = NULL;
    if (job->responded) {
        job_free(job);
        return;
    }
    pthread_mutex_lock(&job->mu);
    job->cancelled = true;
    job->in_transport = false; /* nothing more will be written */
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

void job_chunk_sent(struct backend_job *job)
{
    pthread_mutex_lock(&job->mu);
    job->in_transport = false;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
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
        bool cancelled = job->cancelled || job->client == NULL;
        if (!cancelled && job->streaming)
            job->in_transport = true;
        pthread_cond_broadcast(&job->cv);
        pthread_mutex_unlock(&job->mu);

        if (cancelled) {
            if (final)
                job_free(job);
            continue;
        }
        if (!job->streaming) {
            job->responded = true;
            job->tp->respond(job);
        } else {
            if (final)
                job->responded = true;
            job->tp->stream(job, final);
        }
    }
}

/* ------------------------------------------------------------------ streaming (workers) */

/* Worker: waits until no chunk of this job is queued or inside the transport. */
static void stream_wait_idle(struct backend_job *job)
{
    while (job->msg_queued || job->in_transport)
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
    job_log(r);
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

static struct backend_job *next_job(void)
{
    pthread_mutex_lock(&S.qmu);
    while (S.qhead == NULL && !S.workers_stop)
        pthread_cond_wait(&S.qcv, &S.qmu);
    struct backend_job *job = S.qhead;
    if (job != NULL) {
        S.qhead = job->next;
        if (S.qhead == NULL)
            S.qtail = NULL;
    }
    pthread_mutex_unlock(&S.qmu);
    return job;
}

static void *worker_main(void *arg)
{
    (void)arg;
    struct backend_job *job;
    while ((job = next_job()) != NULL) {
        pthread_mutex_lock(&job->mu);
        bool cancelled = job->cancelled;
        pthread_mutex_unlock(&job->mu);
        if (!cancelled || job->must_run)
            job->fn(&job->r);
        else
            job->r.status = 499; /* client went away before we started: nothing is done */
        if (job->streaming) {
            stream_flush(job, true);
            continue;
        }
        if (job->r.status == 0)
            respond_error(&job->r, ERR_INTERNAL, "handler set no response");
        job_log(&job->r);
        job->final = true;
        pthread_mutex_lock(&job->mu);
        job->msg_queued = true;
        pthread_mutex_unlock(&job->mu);
        h2o_multithread_send_message(&job->owner->recv, &job->super);
    }
    return NULL;
}

/* ------------------------------------------------------------------ accepting connections */

struct handshake {
    struct loop *lt;
    h2o_socket_t *sock;
    h2o_timeout_entry_t timer;
    struct timeval connected_at;
};

static void on_handshake_timeout(h2o_timeout_entry_t *entry)
{
    struct handshake *hs = H2O_STRUCT_FROM_MEMBER(struct handshake, timer, entry);
    h2o_socket_t *sock = hs->sock;
    free(hs);
    h2o_socket_close(sock);
}

/* ALPN "h2": h2o serves the connection; anything else is HTTP/1.1. */
static void on_handshake(h2o_socket_t *sock, const char *err)
{
    struct handshake *hs = sock->data;
    struct loop *lt = hs->lt;
    struct timeval at = hs->connected_at;
    h2o_timeout_unlink(&hs->timer);
    free(hs);
    sock->data = NULL;
    if (err != NULL) {
        h2o_socket_close(sock);
        return;
    }
    h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
    for (const h2o_iovec_t *p = h2o_http2_alpn_protocols; p->len != 0; ++p) {
        if (proto.len == p->len && memcmp(proto.base, p->base, p->len) == 0) {
            h2o_http2_accept(&lt->accept_ctx, sock, at);
            return;
        }
    }
    http1_accept(lt, sock, at);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    struct loop *lt = listener->data;
    h2o_socket_t *sock;
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL) {
        struct timeval at = *h2o_get_timestamp(&lt->ctx, NULL, NULL);
        if (S.ssl == NULL || lt->plain) {
            http1_accept(lt, sock, at);
            continue;
        }
        struct handshake *hs = xcalloc(1, sizeof(*hs));
        hs->lt = lt;
        hs->sock = sock;
        hs->connected_at = at;
        hs->timer.cb = on_handshake_timeout;
        h2o_timeout_link(lt->loop, &lt->idle, &hs->timer);
        sock->data = hs;
        h2o_socket_ssl_handshake(sock, S.ssl, NULL, on_handshake);
    }
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

static int bind_one(const struct addrinfo *ai, const char *addr, bool reuseport, struct err *err)
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
        return err_set_errno(err, ERR_INVALID, e, "cannot listen on %s", addr);
    }
    return fd;
}

/* Binds loops [from, to) to addr, each with its own socket. */
static int listen_on(const char *addr, int from, int to, struct err *err)
{
    struct addrinfo *res;
    if (resolve_listen(addr, &res, err) != 0)
        return -1;
    /* SO_REUSEPORT would let a second server bind the same port silently and share its
     * traffic: probe once without it so a port in use is reported. */
    int probe = bind_one(res, addr, false, err);
    if (probe < 0) {
        freeaddrinfo(res);
        return -1;
    }
    close(probe);
    for (int i = from; i < to; i++) {
        S.loops[i].fd = bind_one(res, addr, true, err);
        if (S.loops[i].fd < 0) {
            freeaddrinfo(res);
            return -1;
        }
    }
    freeaddrinfo(res);
    return 0;
}

static int open_listeners(struct err *err)
{
    const struct config *cfg = S.srv->cfg;
    for (int i = 0; i < S.nloops; i++) {
        bool metrics = i >= S.nmain;
        S.loops[i].routes = metrics ? S.metrics_routes : S.routes;
        S.loops[i].nroutes = metrics ? S.metrics_nroutes : S.nroutes;
        S.loops[i].plain = metrics;
        S.loops[i].addr = metrics ? cfg->metrics_listen : cfg->listen;
    }
    if (listen_on(cfg->listen, 0, S.nmain, err) != 0)
        return -1;
    return S.nloops > S.nmain ? listen_on(cfg->metrics_listen, S.nmain, S.nloops, err) : 0;
}

void server_set_metrics_routes(const struct backend_route *routes, size_t nroutes)
{
    S.metrics_routes = routes;
    S.metrics_nroutes = nroutes;
}

/* ------------------------------------------------------------------ loops */

/* After SIGTERM: no new connections or requests; the ones received finish (at most
 * DRAIN_MAX_MS), then a few more turns flush the last answers. */
static void drain(struct loop *lt, h2o_socket_t *listener)
{
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    lt->stopping = true;
    h2o_context_request_shutdown(&lt->ctx);
    http1_stop_idle(lt);
    int64_t t0 = mono_ms();
    while (mono_ms() - t0 < DRAIN_MAX_MS) {
        h2o_evloop_run(lt->loop, 50);
        if (atomic_load(&S.pending) == 0 && mono_ms() - t0 >= 100)
            break;
    }
    for (int i = 0; i < 4; i++)
        h2o_evloop_run(lt->loop, 10);
}

static void *loop_main(void *arg)
{
    struct loop *lt = arg;
    lt->loop = h2o_evloop_create();
    h2o_context_init(&lt->ctx, lt->loop, &S.conf);
    h2o_multithread_register_receiver(lt->ctx.queue, &lt->recv, on_messages);
    h2o_timeout_init(lt->loop, &lt->idle, (uint64_t)S.srv->cfg->idle_timeout_ms);
    h2o_timeout_init(lt->loop, &lt->linger, HTTP1_LINGER_MS);
    h2o_linklist_init_anchor(&lt->http1s);
    lt->accept_ctx.ctx = &lt->ctx;
    lt->accept_ctx.hosts = S.conf.hosts;
    lt->accept_ctx.ssl_ctx = lt->plain ? NULL : S.ssl;
    h2o_socket_t *ls = h2o_evloop_socket_create(lt->loop, lt->fd, H2O_SOCKET_FLAG_DONT_READ);
    ls->data = lt;
    h2o_socket_read_start(ls, on_accept);
    while (!stopping)
        h2o_evloop_run(lt->loop, 200);
    drain(lt, ls);
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
    if (cfg->http2)
        h2o_ssl_register_alpn_protocols(ssl, h2o_http2_alpn_protocols);
    S.ssl = ssl;
    return 0;
fail:
    SSL_CTX_free(ssl);
    return -1;
}

static void stop_workers(void)
{
    pthread_mutex_lock(&S.qmu);
    S.workers_stop = true;
    pthread_cond_broadcast(&S.qcv);
    pthread_mutex_unlock(&S.qmu);
    for (int i = 0; i < S.nworkers; i++)
        pthread_join(S.workers[i], NULL);
}

int server_run(struct server *srv, const struct backend_route *routes, size_t nroutes,
               struct err *err)
{
    const struct config *cfg = srv->cfg;
    S.srv = srv;
    S.routes = routes;
    S.nroutes = nroutes;
    S.nmain = (int)cfg->threads;
    bool metrics =
        cfg->metrics_listen != NULL && cfg->metrics_listen[0] != '\0' && S.metrics_routes != NULL;
    S.nloops = S.nmain + (metrics ? 1 : 0);
    S.nworkers = (int)cfg->workers;
    random_bytes(&S.boot_id, sizeof(S.boot_id));
    metrics_on_collect(collect_in_flight, NULL);

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    h2o_config_init(&S.conf);
    S.conf.server_name = h2o_iovec_init(H2O_STRLIT("stated"));
    S.conf.http2.idle_timeout = (uint64_t)cfg->idle_timeout_ms;
    h2_setup(&S.conf, (size_t)cfg->max_state_bytes);
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
    const struct log_field start[] = {
        LOG_STR("event", "start"), LOG_STR("version", STATED_VERSION),
        LOG_STR("listen", cfg->listen),
        LOG_STR("metrics_listen", metrics ? cfg->metrics_listen : NULL)};
    log_fields(LOG_INFO, start, 4,
               "stated listening on %s://%s (%d loops, %d workers, HTTP/1.1%s%s)",
               S.ssl != NULL ? "https" : "http", cfg->listen, S.nmain, S.nworkers,
               cfg->http2 ? " and HTTP/2" : "",
               cfg->client_ca != NULL ? ", client certificates required" : "");
    if (metrics)
        log_info("metrics on http://%s/metrics (no authentication)", cfg->metrics_listen);

    for (int i = 0; i < S.nloops; i++)
        pthread_join(S.loops[i].tid, NULL);
    int left = atomic_load(&S.pending);
    const struct log_field stop[] = {LOG_STR("event", "stop"), LOG_INT("in_progress", left)};
    if (left > 0) {
        log_fields(LOG_WARN, stop, 2, "stopping with %d requests still in progress", left);
        return 1;
    }
    stop_workers();
    log_fields(LOG_INFO, stop, 1, "stopped");
    return 0;
}
