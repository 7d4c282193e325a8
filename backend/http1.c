/* backend/http1.c: HTTP/1.1 connections, on h2o's event-loop sockets.
 *
 * One connection answers one request at a time, in order (pipelined requests wait in the
 * socket's input buffer). A connection goes through these states:
 *
 *   HEAD   reading a request head. The whole head must arrive within --idle-timeout of its
 *          first byte (a client trickling a byte at a time cannot hold the connection); with
 *          no byte at all, the timer is the keep-alive limit and ends the connection quietly.
 *   BODY   reading the body: Content-Length bytes, or chunks (http1_parse.c), into a buffer
 *          with the state size limit as its ceiling. The timer restarts on every byte, so a
 *          slow but steady upload succeeds however long it takes; one idle for --idle-timeout
 *          gets 408.
 *   BUSY   the request is a job (server.c): reading stops until it is answered.
 *   WRITE  writing the answer, WRITE_CHUNK bytes at a time straight from the job's body (a
 *          shared state blob is never copied, and TLS, which encrypts whatever it is given at
 *          once, never holds more than a chunk); the timer restarts with every chunk, so a
 *          reader that stops reading is dropped.
 *   LINGER after an answer that closes the connection: the unread rest of the request is
 *          read and dropped for a moment, so the client sees the answer instead of a reset.
 *
 * Refusals the connection itself makes (a malformed head, 408, 413 on Content-Length,
 * framing errors) become jobs with their answer set and go through job_refuse, so they are
 * logged with the method and path the client sent and recorded in the audit trail like any
 * other answer, on a worker. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "h2o.h"
#include "h2o/http2.h"

#include "backend/backend_int.h"
#include "common/log.h"
#include "common/util.h"

#define WRITE_CHUNK (256 * 1024)
#define H2_PREFACE  "PRI * HTTP/2.0\r\n"

enum conn_state { ST_HEAD, ST_BODY, ST_BUSY, ST_WRITE, ST_LINGER };

struct http1_conn {
    h2o_socket_t *sock;
    struct loop *lt;
    h2o_linklist_t link; /* lt->http1s */
    struct timeval connected_at;
    h2o_timeout_entry_t timer;
    enum conn_state state;
    struct backend_job *job; /* the request in progress, from its head to its answer */
    char remote[64];
    /* the request */
    int minor;
    bool keep_alive, head_method;
    bool chunked;
    uint64_t body_left;
    struct http1_chunked dec;
    struct buf body;
    /* the answer */
    struct buf out; /* status line and headers, or a chunk's framing */
    const char *body_data;
    size_t body_len, body_off;
    h2o_iovec_t tail; /* written after the body's last byte: a chunk's closing framing */
    bool streamed, stream_final;
};

static void read_head(struct http1_conn *c);
static void on_read(h2o_socket_t *sock, const char *err);

/* ------------------------------------------------------------------ lifetime */

static void arm(struct http1_conn *c, h2o_timeout_t *t)
{
    if (h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer);
    h2o_timeout_link(c->lt->loop, t, &c->timer);
}

static void disarm(struct http1_conn *c)
{
    if (h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer);
}

static void close_conn(struct http1_conn *c)
{
    disarm(c);
    if (c->job != NULL)
        job_client_gone(c->job);
    h2o_linklist_unlink(&c->link);
    h2o_socket_close(c->sock);
    buf_cleanup(&c->body);
    buf_cleanup(&c->out);
    free(c);
}

/* ------------------------------------------------------------------ requests */

/* The state name a log line may show, or the path with everything a log line could be
 * forged with escaped. */
static void copy_target(struct backend_req *r, const char *target, size_t len)
{
    /* absolute-form (RFC 9112 §3.2.2): the path starts after the authority */
    if (len > 7 && (strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0)) {
        const char *auth = (const char *)memchr(target, '/', len) + 2;
        const char *slash = memchr(auth, '/', (size_t)(target + len - auth));
        size_t skip = slash != NULL ? (size_t)(slash - target) : len;
        target += skip;
        len -= skip;
    }
    const char *q = memchr(target, '?', len);
    size_t plen = q != NULL ? (size_t)(q - target) : len;
    r->path = plen > 0 ? xstrndup(target, plen) : xstrdup("/");
    if (q != NULL)
        r->query = xstrndup(q + 1, len - plen - 1);
    backend_log_name(r, r->path);
}

static char *field_dup(const struct http1_head *h, const char *name)
{
    for (size_t i = 0; i < h->nheaders; i++)
        if (h->headers[i].name_len == strlen(name) &&
            strncasecmp(h->headers[i].name, name, h->headers[i].name_len) == 0)
            return xstrndup(h->headers[i].value, h->headers[i].value_len);
    return NULL;
}

/* Every occurrence of a list-valued field, joined by ", " (RFC 9110 5.3): a proxy may add its
 * X-Forwarded-For as a line of its own after the one the client sent. */
static char *field_join(const struct http1_head *h, const char *name)
{
    struct buf b;
    struct err e = {0};
    buf_init(&b, 0);
    for (size_t i = 0; i < h->nheaders; i++) {
        if (h->headers[i].name_len != strlen(name) ||
            strncasecmp(h->headers[i].name, name, h->headers[i].name_len) != 0)
            continue;
        if ((b.len > 0 && buf_append_str(&b, ", ", &e) != 0) ||
            buf_append(&b, h->headers[i].value, h->headers[i].value_len, &e) != 0)
            break;
    }
    return b.data != NULL ? buf_take(&b, NULL) : NULL;
}

static struct backend_job *new_job(struct http1_conn *c);

/* The connection refuses the request itself: the answer is set now, audited by a worker,
 * and the connection closes after it. h may be NULL or only partly parsed. */
static void refuse(struct http1_conn *c, const struct http1_head *h, const struct err *e)
{
    struct backend_job *job = c->job != NULL ? c->job : new_job(c);
    struct backend_req *r = &job->r;
    if (r->path == NULL && h != NULL && h->method != NULL && h->target != NULL) {
        snprintf(r->method, sizeof(r->method), "%.*s", (int)h->method_len, h->method);
        copy_target(r, h->target, h->target_len);
        r->authorization = field_dup(h, "authorization"); /* the fields parsed so far */
        r->forwarded_for = field_join(h, "x-forwarded-for");
    }
    if (r->path == NULL)
        r->path = xstrdup("-");
    c->keep_alive = false;
    disarm(c);
    h2o_socket_read_stop(c->sock);
    c->state = ST_BUSY;
    job_refuse(job, e);
}

static void dispatch(struct http1_conn *c)
{
    struct backend_req *r = &c->job->r;
    disarm(c);
    h2o_socket_read_stop(c->sock);
    if (c->body.data != NULL || c->body_left > 0 || c->chunked) {
        r->body_len = c->body.len;
        r->body = buf_take(&c->body, NULL);
    }
    c->state = ST_BUSY;
    job_dispatch(c->job);
}

/* Moves what has arrived of the body out of the socket's buffer. */
static void read_body(struct http1_conn *c)
{
    h2o_buffer_t *in = c->sock->input;
    struct err e = {0};
    size_t used;
    if (in->size == 0)
        return;
    if (c->chunked) {
        ssize_t n = http1_chunked_decode(&c->dec, in->bytes, in->size, &c->body, &e);
        if (n < 0) {
            refuse(c, NULL, &e);
            return;
        }
        used = (size_t)n;
    } else {
        used = in->size < c->body_left ? in->size : (size_t)c->body_left;
        buf_append(&c->body, in->bytes, used, NULL); /* reserved at the head */
        c->body_left -= used;
    }
    h2o_buffer_consume(&c->sock->input, used);
    arm(c, &c->lt->idle); /* progress: the idle timer starts again */
    if (c->chunked ? c->dec.state == CH_DONE : c->body_left == 0)
        dispatch(c);
}

static void on_continue_sent(h2o_socket_t *sock, const char *err)
{
    struct http1_conn *c = sock->data;
    if (err != NULL) {
        close_conn(c);
        return;
    }
    buf_reset(&c->out);
    h2o_socket_read_start(sock, on_read);
    read_body(c);
}

/* The head is complete: the request becomes a job; its body, if any, is read next. */
static void start_request(struct http1_conn *c, const struct http1_head *h)
{
    struct backend_job *job = new_job(c);
    struct backend_req *r = &job->r;
    uint64_t max = server_self()->ops.max_state_bytes;
    snprintf(r->method, sizeof(r->method), "%.*s", (int)h->method_len, h->method);
    copy_target(r, h->target, h->target_len);
    r->content_md5 = field_dup(h, "content-md5");
    r->authorization = field_dup(h, "authorization");
    r->forwarded_for = field_join(h, "x-forwarded-for");
    r->forwarded_proto = field_dup(h, "x-forwarded-proto");
    r->cookie = field_join(h, "cookie");
    r->csrf_token = field_dup(h, "x-csrf-token");
    r->if_none_match = field_join(h, "if-none-match");
    c->minor = h->minor;
    c->keep_alive = h->keep_alive && !c->lt->stopping;
    c->head_method = strcmp(r->method, "HEAD") == 0;
    c->chunked = h->chunked;
    c->body_left = h->has_length ? h->content_length : 0;
    h2o_buffer_consume(&c->sock->input, h->head_len);
    struct err e = {0};
    if (c->body_left > max) {
        err_set(&e, ERR_TOO_LARGE, "request body of %llu bytes is larger than the limit of %llu",
                (unsigned long long)c->body_left, (unsigned long long)max);
        refuse(c, h, &e);
        return;
    }
    if (!c->chunked && c->body_left == 0) {
        dispatch(c);
        return;
    }
    buf_init(&c->body, (size_t)max);
    if (!c->chunked)
        buf_reserve(&c->body, (size_t)c->body_left, NULL);
    http1_chunked_init(&c->dec);
    c->state = ST_BODY;
    arm(c, &c->lt->idle);
    if (h->expect_continue && c->sock->input->size == 0) {
        static char cont_text[] = "HTTP/1.1 100 Continue\r\n\r\n";
        h2o_iovec_t cont = h2o_iovec_init(cont_text, sizeof(cont_text) - 1);
        h2o_socket_read_stop(c->sock);
        h2o_socket_write(c->sock, &cont, 1, on_continue_sent);
        return;
    }
    read_body(c);
}

/* With --http2, a client that opens with the HTTP/2 preface speaks HTTP/2 without TLS: h2o
 * takes the socket, preface included. True when that happened. */
static bool handed_to_h2(struct http1_conn *c)
{
    h2o_buffer_t *in = c->sock->input;
    size_t n = in->size < strlen(H2_PREFACE) ? in->size : strlen(H2_PREFACE);
    if (!server_self()->cfg->http2 || c->job != NULL || n < strlen(H2_PREFACE) ||
        memcmp(in->bytes, H2_PREFACE, n) != 0)
        return false;
    h2o_socket_t *sock = c->sock;
    struct loop *lt = c->lt;
    struct timeval at = c->connected_at;
    disarm(c);
    h2o_socket_read_stop(sock);
    h2o_linklist_unlink(&c->link);
    free(c);
    h2o_http2_accept(&lt->accept_ctx, sock, at);
    return true;
}

static void read_head(struct http1_conn *c)
{
    h2o_buffer_t *in = c->sock->input;
    if (in->size == 0 || handed_to_h2(c))
        return;
    struct http1_head h;
    struct err e = {0};
    int rc = http1_parse_head(in->bytes, in->size, &h, &e);
    if (rc > 0)
        return; /* more to come; the head's deadline keeps running */
    if (rc < 0)
        refuse(c, &h, &e);
    else
        start_request(c, &h);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    struct http1_conn *c = sock->data;
    if (err != NULL) {
        close_conn(c);
        return;
    }
    switch (c->state) {
    case ST_HEAD:
        read_head(c);
        break;
    case ST_BODY:
        read_body(c);
        break;
    case ST_LINGER:
        h2o_buffer_consume(&sock->input, sock->input->size);
        break;
    case ST_BUSY:
    case ST_WRITE:
        break; /* reading is stopped: nothing arrives here */
    }
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    struct http1_conn *c = H2O_STRUCT_FROM_MEMBER(struct http1_conn, timer, entry);
    struct err e = {0};
    if ((c->state == ST_HEAD && c->sock->input->size > 0) || c->state == ST_BODY) {
        err_set(&e, ERR_TIMEOUT, "no byte of the request for %llu ms",
                (unsigned long long)c->lt->idle.timeout);
        struct http1_head partial;
        struct err ignore = {0};
        bool have =
            c->state == ST_HEAD &&
            http1_parse_head(c->sock->input->bytes, c->sock->input->size, &partial, &ignore) >= 0;
        refuse(c, have ? &partial : NULL, &e);
        return;
    }
    close_conn(c); /* idle between requests, a reader that stopped reading, or lingering done */
}

/* ------------------------------------------------------------------ answers */

/* "Tue, 01 Dec 2026 22:16:21 GMT", computed once a second per thread. */
static const char *http_date(void)
{
    static _Thread_local char text[40];
    static _Thread_local time_t at;
    time_t now = time(NULL);
    if (now != at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        at = now;
    }
    return text;
}

static void put_str(struct buf *o, const char *s)
{
    buf_append(o, s, strlen(s), NULL);
}

static void put_uint(struct buf *o, unsigned long long v)
{
    char digits[24];
    size_t n = sizeof(digits);
    do
        digits[--n] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    buf_append(o, digits + n, sizeof(digits) - n, NULL);
}

/* The status line and header fields of r's answer into c->out (one per request: no printf
 * here). length < 0: streamed. */
static void answer_head(struct http1_conn *c, const struct backend_req *r, long long length)
{
    struct buf *o = &c->out;
    buf_reset(o);
    put_str(o, "HTTP/1.1 ");
    put_uint(o, (unsigned long long)r->status);
    put_str(o, " ");
    put_str(o, http_reason(r->status));
    put_str(o, "\r\ndate: ");
    put_str(o, http_date());
    put_str(o, "\r\nserver: stated\r\n");
    if (length >= 0 && r->status == 304) {
        /* no Content-Length: a 304's would have to be the 200's */
    } else if (length >= 0) {
        put_str(o, "content-length: ");
        put_uint(o, (unsigned long long)length);
        put_str(o, "\r\n");
    } else if (c->minor == 1) {
        put_str(o, "transfer-encoding: chunked\r\n");
    } else {
        c->keep_alive = false; /* HTTP/1.0: the end of the connection ends the body */
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        put_str(o, r->headers[i].name);
        put_str(o, ": ");
        put_str(o, r->headers[i].value);
        put_str(o, "\r\n");
    }
    put_str(o, "x-request-id: ");
    put_str(o, r->request_id);
    if (!c->keep_alive)
        put_str(o, "\r\nconnection: close");
    else if (c->minor == 0)
        put_str(o, "\r\nconnection: keep-alive");
    put_str(o, "\r\n\r\n");
}

/* The answer is written: the next request, or the end of the connection. */
static void answer_done(struct http1_conn *c)
{
    job_free(c->job);
    c->job = NULL;
    c->body_data = NULL;
    c->body_len = c->body_off = 0;
    if (!c->keep_alive) {
        /* Stop sending, read and drop the rest for a moment (see LINGER). */
        shutdown(h2o_socket_get_fd(c->sock), SHUT_WR);
        c->state = ST_LINGER;
        arm(c, &c->lt->linger);
        h2o_socket_read_start(c->sock, on_read);
        return;
    }
    c->state = ST_HEAD;
    buf_cleanup(&c->body);
    arm(c, &c->lt->idle);
    h2o_socket_read_start(c->sock, on_read);
    read_head(c); /* a pipelined request may be waiting already */
}

static void write_next(struct http1_conn *c);

static void on_written(h2o_socket_t *sock, const char *err)
{
    struct http1_conn *c = sock->data;
    if (err != NULL) {
        close_conn(c);
        return;
    }
    buf_reset(&c->out);
    if (c->body_off < c->body_len) {
        write_next(c);
    } else if (c->streamed && !c->stream_final) {
        disarm(c);
        job_chunk_sent(c->job);
    } else {
        answer_done(c);
    }
}

/* Writes c->out, the next WRITE_CHUNK bytes of the body and, after its last byte, c->tail. */
static void write_next(struct http1_conn *c)
{
    h2o_iovec_t v[3];
    size_t n = 0;
    if (c->out.len > 0)
        v[n++] = h2o_iovec_init(c->out.data, c->out.len);
    size_t take = c->body_len - c->body_off;
    if (take > WRITE_CHUNK)
        take = WRITE_CHUNK;
    if (take > 0)
        v[n++] = h2o_iovec_init(c->body_data + c->body_off, take);
    c->body_off += take;
    if (c->body_off == c->body_len && c->tail.len > 0) {
        v[n++] = c->tail;
        c->tail = h2o_iovec_init(NULL, 0);
    }
    c->state = ST_WRITE;
    arm(c, &c->lt->idle);
    h2o_socket_write(c->sock, v, n, on_written);
}

static void http1_respond(struct backend_job *job)
{
    struct http1_conn *c = job->client;
    struct backend_req *r = &job->r;
    if (c->lt->stopping)
        c->keep_alive = false;
    const struct blob *shared = r->resp_shared;
    c->body_data = shared != NULL ? shared->data : r->resp.data;
    c->body_len = shared != NULL ? shared->len : r->resp.len;
    answer_head(c, r, (long long)c->body_len);
    if (c->head_method)
        c->body_len = 0; /* a HEAD answer has the length, not the body */
    c->body_off = 0;
    write_next(c);
}

/* One chunk of a streamed answer: its size line, the bytes, and the CRLF after them. */
static void http1_stream(struct backend_job *job, bool final)
{
    struct http1_conn *c = job->client;
    struct backend_req *r = &job->r;
    if (!c->streamed) {
        c->streamed = true;
        if (c->lt->stopping)
            c->keep_alive = false;
        answer_head(c, r, -1);
    }
    c->stream_final = final;
    c->body_data = job->sending.data;
    c->body_len = job->sending.len;
    c->body_off = 0;
    if (c->minor == 1) { /* chunked framing; HTTP/1.0 sends the bytes as they are */
        if (c->body_len > 0)
            buf_printf(&c->out, NULL, "%zx\r\n", c->body_len);
        if (c->body_len > 0)
            c->tail = final ? h2o_iovec_init(H2O_STRLIT("\r\n0\r\n\r\n"))
                            : h2o_iovec_init(H2O_STRLIT("\r\n"));
        else if (final)
            buf_append_str(&c->out, "0\r\n\r\n", NULL);
    }
    if (c->out.len == 0 && c->body_len == 0) {
        if (final)
            answer_done(c);
        else
            job_chunk_sent(job);
        return;
    }
    write_next(c);
}

static const struct transport_ops http1_ops = {.respond = http1_respond, .stream = http1_stream};

static struct backend_job *new_job(struct http1_conn *c)
{
    c->job = job_new(c->lt, &http1_ops, c);
    c->streamed = c->stream_final = false;
    snprintf(c->job->r.remote, sizeof(c->job->r.remote), "%s", c->remote);
    return c->job;
}

/* ------------------------------------------------------------------ connections */

void http1_accept(struct loop *lt, h2o_socket_t *sock, struct timeval connected_at)
{
    struct http1_conn *c = xcalloc(1, sizeof(*c));
    c->sock = sock;
    c->lt = lt;
    c->connected_at = connected_at;
    c->timer.cb = on_timeout;
    c->state = ST_HEAD;
    buf_init(&c->out, 0);
    buf_init(&c->body, 0);
    struct sockaddr_storage ss;
    socklen_t len = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    backend_remote_text((struct sockaddr *)&ss, len, c->remote);
    sock->data = c;
    h2o_linklist_insert(&lt->http1s, &c->link);
    arm(c, &lt->idle);
    h2o_socket_read_start(sock, on_read);
    if (sock->input->size > 0)
        read_head(c);
}

void http1_stop_idle(struct loop *lt)
{
    h2o_linklist_t *node = lt->http1s.next;
    while (node != &lt->http1s) {
        struct http1_conn *c = H2O_STRUCT_FROM_MEMBER(struct http1_conn, link, node);
        node = node->next;
        if (c->state == ST_HEAD && c->sock->input->size == 0)
            close_conn(c);
    }
}
