/* backend/backend_int.h: what the transport files of backend/ share (server.c, h2.c, http1.c,
 * http1_parse.c). Not for the routes: they see requests only through struct backend_req.
 *
 * A job is one request on its way through the server. The transport that received it (our
 * HTTP/1.1 connection, or h2o for HTTP/2) creates it on its loop thread, server.c routes it
 * (answered on the loop, or queued for a worker), and when the answer is ready the job goes
 * back to the transport through its transport_ops, on the loop thread that owns it. The
 * transport frees the job once the answer is written or the client is gone; a job whose
 * client went away while a worker had it is marked cancelled and freed when the worker hands
 * it back. */
#ifndef STATED_BACKEND_INT_H
#define STATED_BACKEND_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "h2o.h"

#include "backend/backend.h"

/* ------------------------------------------------------------------ loops and jobs */

struct loop {
    pthread_t tid;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_multithread_receiver_t recv;
    int fd;
    h2o_timeout_t idle;    /* --idle-timeout, for HTTP/1.1 connections and handshakes */
    h2o_timeout_t linger;  /* HTTP1_LINGER_MS: reading what follows an answer that closes */
    h2o_linklist_t http1s; /* open HTTP/1.1 connections (closed when stopping) */
    bool stopping;         /* no new requests on kept-alive connections */
    /* What this loop's listener serves: the server's table, or the metrics table on the
     * --metrics-listen loop, which never speaks TLS (plain). */
    const struct backend_route *routes;
    size_t nroutes;
    bool plain;
    const char *addr; /* the listen address, for messages */
};

struct backend_job;

/* How a job's answer reaches its client. Loop thread only; job->client is not NULL. */
struct transport_ops {
    /* The whole answer in job->r (status, headers, body). */
    void (*respond)(struct backend_job *job);
    /* The next chunk of a streamed answer (job->sending), the last one when final; the first
     * call also sends the status and headers. The transport calls job_chunk_sent when it may
     * take the next one. */
    void (*stream)(struct backend_job *job, bool final);
};

struct backend_job {
    h2o_multithread_message_t super; /* linked into the owner's receiver queue */
    struct backend_job *next;        /* worker queue */
    struct loop *owner;
    const struct transport_ops *tp;
    void *client;          /* the transport's request or connection; NULL once it is gone */
    backend_handler_fn fn; /* on a worker */
    struct backend_req r;
    bool responded; /* loop: the final answer went to the transport, which frees the job */
    bool must_run;  /* fn runs even when the client is gone (a refusal's audit event) */
    bool final;     /* worker -> loop: this message is the job's last */
    /* streaming, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool cancelled, msg_queued, in_transport;
    bool streaming, stream_started;
    struct buf fill, sending;
    /* h2o only */
    struct h2_anchor *anchor;
    h2o_generator_t gen;
};

/* A new job for a request that arrived on lt (loop thread), with a fresh request id. The
 * transport fills in method, path, query, body and headers. */
struct backend_job *job_new(struct loop *lt, const struct transport_ops *tp, void *client);
void job_free(struct backend_job *job);
/* Routes the job (loop thread): its route's on_loop handler, then a worker. Every answer
 * reaches job->tp, now or later. */
void job_dispatch(struct backend_job *job);
/* The transport refuses the request (400, 408, 413, 414, 431, 501, 505): the answer is the
 * error; a worker records it in the audit trail, then it goes back to the transport. */
void job_refuse(struct backend_job *job, const struct err *why);
/* The transport lost its client (loop thread): a job with a worker is cancelled, any other
 * is freed. */
void job_client_gone(struct backend_job *job);
/* The transport wrote the chunk it was given: the streaming worker may go on. */
void job_chunk_sent(struct backend_job *job);
/* "OK", "Not Found"…: the reason phrase of an HTTP status. */
const char *http_reason(int status);
/* Writes the request log line of r. */
void job_log(const struct backend_req *r);
/* The server's objects, for the transports. */
struct server *server_self(void);

/* The client address of a socket as text ("" when unknown). */
void backend_remote_text(const struct sockaddr *sa, socklen_t len, char out[64]);
/* Sets r->log_name to path, with every byte a log line could be forged with escaped. */
void backend_log_name(struct backend_req *r, const char *path);

/* ------------------------------------------------------------------ HTTP/2 (h2.c) */

/* Registers the h2o handler that turns HTTP/2 requests into jobs. */
void h2_setup(h2o_globalconf_t *conf, size_t max_body);

/* ------------------------------------------------------------------ HTTP/1.1 (http1.c) */

/* Serves an accepted (and, with TLS, handshaken) socket as HTTP/1.1; a client that opens with
 * the HTTP/2 preface is handed to h2o. */
void http1_accept(struct loop *lt, h2o_socket_t *sock, struct timeval connected_at);
/* When stopping: closes every connection waiting for a request; the others close after their
 * answer. */
void http1_stop_idle(struct loop *lt);

/* ------------------------------------------------------------------ HTTP/1.1 parsing */

#define HTTP1_METHOD_MAX  20
#define HTTP1_TARGET_MAX  8192
#define HTTP1_HEAD_MAX    (32 * 1024)
#define HTTP1_MAX_HEADERS 100
#define HTTP1_TRAILER_MAX 8192
#define HTTP1_LINGER_MS   1000

struct http1_field {
    const char *name, *value; /* into the parsed buffer */
    size_t name_len, value_len;
};

/* A parsed request head. Pointers point into the buffer given to http1_parse_head. */
struct http1_head {
    const char *method, *target;
    size_t method_len, target_len;
    int minor; /* HTTP/1.minor */
    struct http1_field headers[HTTP1_MAX_HEADERS];
    size_t nheaders;
    size_t head_len; /* bytes up to and including the empty line */
    /* what the fields say */
    bool chunked, has_length, keep_alive, expect_continue;
    uint64_t content_length;
};

/* True when s is an RFC 9110 token (what a method must be). */
bool http1_is_token(const char *s, size_t n);
/* Parses the head at buf[0, len): 0 and *h filled when complete, 1 when more bytes are
 * needed, -1 with err when the request must be refused: ERR_INVALID (400), ERR_URI_TOO_LONG
 * (414), ERR_HEADERS_TOO_LARGE (431), ERR_NOT_IMPLEMENTED (501), ERR_VERSION (505). */
int http1_parse_head(const char *buf, size_t len, struct http1_head *h, struct err *err);

enum http1_chunk_state {
    CH_SIZE,
    CH_EXT,
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER,
    CH_TRAILER_LF,
    CH_DONE
};
struct http1_chunked {
    enum http1_chunk_state state;
    uint64_t left;   /* bytes of the current chunk still to come */
    unsigned digits; /* of the size being read */
    size_t meta;     /* extension or trailer bytes seen */
    size_t line;     /* bytes in the current trailer line */
};
void http1_chunked_init(struct http1_chunked *c);
/* Decodes in[0, len) into out (under its ceiling: ERR_TOO_LARGE): returns the bytes used (all
 * of them unless the body ended: state CH_DONE), or -1 with err (ERR_INVALID when malformed). */
ssize_t http1_chunked_decode(struct http1_chunked *c, const char *in, size_t len, struct buf *out,
                             struct err *err);

#endif
