/* audit/jsonl.c: the embedded audit trail, DIR/audit.jsonl.
 *
 * One canonical event per line (audit/chain.c). Appends are serialised by a mutex; each builds
 * the whole line and writes it with one write(2) to an O_APPEND descriptor, so the event is in
 * the file (and survives a crash of stated) before the request is answered.
 *
 * Durability is a group commit (common/groupsync.h): an append that must be durable joins the
 * group after its write, so the fdatasync of its batch began after the write; N concurrent
 * appends cost one or two fdatasyncs, not N, and the mutex that orders the chain is never held
 * across a disk flush. Events marked `deferred_sync` (requests that changed
 * nothing, such as reads) do not wait: the flusher thread syncs them within FLUSH_INTERVAL_MS,
 * so only an operating-system crash can lose that last fraction of a second of read events.
 *
 * Start-up recovers the chain head (last seq and hash) from the last line. A crash in the
 * middle of a write can leave a partial last line (no newline): it is cut off, and logged,
 * because the request it described was never acknowledged. A complete last line that does not
 * parse is not repaired: start-up fails and `statectl audit verify` tells where the log broke.
 *
 * Export and verify read through their own descriptor up to the size the file had when they
 * began (taken under the append mutex), so they never see a line being written. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "common/file.h"
#include "common/groupsync.h"
#include "common/log.h"
#include "common/util.h"

/* Longest line accepted: every string field at its maximum, each byte escaped as \u00XX. */
#define LINE_MAX_BYTES (64 * 1024)

struct jsonl {
    struct auditlog base;
    pthread_mutex_t mu;
    char *dir, *path;
    int fd;
    uint64_t seq;  /* last written */
    char prev[65]; /* its hash */
    off_t size;    /* bytes of complete lines */

    /* Durability: the group commit, whether deferred lines wait for the flusher (dirty), and
     * the flusher's wake-up (stop_mu). */
    struct groupsync sync;
    atomic_bool dirty;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping, flusher_started;
    pthread_t flusher;

    /* read_after's bookmark (mu): where the line after event hint_seq starts, so a reader
     * that follows the tail does not rescan the whole file on every page. */
    uint64_t hint_seq;
    off_t hint_off;
};

#define FLUSH_INTERVAL_MS 100

/* groupsync flush: every line of the batch was written before this began. */
static int sync_lines(void *ctx, struct groupsync_member *batch, struct err *err)
{
    struct jsonl *jl = ctx;
    (void)batch;
    if (fdatasync(jl->fd) != 0)
        return err_set_errno(err, ERR_UNAVAILABLE, errno, "fdatasync %s", jl->path);
    return 0;
}

/* Returns once every line written so far is durable. */
static int sync_written(struct jsonl *jl, struct err *err)
{
    struct groupsync_member me = {0};
    return groupsync_join(&jl->sync, &me, err);
}

static void *flusher_main(void *arg)
{
    struct jsonl *jl = arg;
    pthread_mutex_lock(&jl->stop_mu);
    while (!jl->stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += FLUSH_INTERVAL_MS * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&jl->stop_cv, &jl->stop_mu, &deadline);
        if (!atomic_exchange(&jl->dirty, false))
            continue; /* nothing deferred since the last round: no flush for an idle log */
        pthread_mutex_unlock(&jl->stop_mu);
        struct err e = {0};
        if (sync_written(jl, &e) != 0) {
            audit_count_append(false);
            log_error("audit: %s", e.msg);
        }
        pthread_mutex_lock(&jl->stop_mu);
    }
    pthread_mutex_unlock(&jl->stop_mu);
    return NULL;
}

/* Reads the tail of the file to find the last complete line; cuts a torn partial line. */
static int recover(struct jsonl *jl, struct err *err)
{
    struct stat st;
    if (fstat(jl->fd, &st) != 0)
        return err_set_errno(err, ERR_UNAVAILABLE, errno, "fstat %s", jl->path);
    off_t size = st.st_size;
    memcpy(jl->prev, AUDIT_ZERO_HASH, 65);
    jl->seq = 0;
    jl->size = 0;
    if (size == 0)
        return 0;
    size_t want = size < (off_t)(2 * LINE_MAX_BYTES) ? (size_t)size : 2 * LINE_MAX_BYTES;
    off_t base = size - (off_t)want;
    char *tail = xmalloc(want + 1);
    int rc = -1;
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(jl->fd, tail + got, want - got, base + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err_set_errno(err, ERR_UNAVAILABLE, n < 0 ? errno : EIO, "read %s", jl->path);
            goto out;
        }
        got += (size_t)n;
    }
    /* end: one past the last '\n' (the end of complete lines). */
    size_t end = want;
    while (end > 0 && tail[end - 1] != '\n')
        end--;
    if (end == 0 && base > 0) {
        err_set(err, ERR_INVALID, "%s: last %zu bytes hold no line end", jl->path, want);
        goto out;
    }
    if (end < want) {
        off_t keep = base + (off_t)end;
        log_warn("audit: %s ends with a torn partial line (%lld bytes, from an interrupted "
                 "write); cutting it off",
                 jl->path, (long long)(size - keep));
        if (ftruncate(jl->fd, keep) != 0 || fdatasync(jl->fd) != 0) {
            err_set_errno(err, ERR_UNAVAILABLE, errno, "truncate %s", jl->path);
            goto out;
        }
        size = keep;
    }
    jl->size = size;
    if (end == 0) {
        rc = 0; /* only a torn line was there */
        goto out;
    }
    size_t start = end - 1;
    while (start > 0 && tail[start - 1] != '\n')
        start--;
    if (start == 0 && base > 0) {
        err_set(err, ERR_INVALID, "%s: last line longer than %d bytes", jl->path, LINE_MAX_BYTES);
        goto out;
    }
    struct audit_event ev;
    struct err pe = {0};
    if (audit_event_parse(tail + start, end - 1 - start, &ev, &jl->seq, NULL, jl->prev, &pe) != 0) {
        err_set(err, ERR_INVALID,
                "%s: last event is damaged (%s); run `statectl audit verify` and repair the "
                "file before starting",
                jl->path, pe.msg);
        goto out;
    }
    rc = 0;
out:
    free(tail);
    return rc;
}

static int jl_append(struct auditlog *al, const struct audit_event *ev, struct err *err)
{
    struct jsonl *jl = (struct jsonl *)al;
    struct buf line;
    buf_init(&line, LINE_MAX_BYTES);
    char hash[65];
    int rc = -1;
    struct audit_event fixed;
    if (ev->time_us <= 0) {
        fixed = *ev;
        fixed.time_us = now_us();
        ev = &fixed;
    }
    pthread_mutex_lock(&jl->mu);
    if (audit_event_canonical(ev, jl->seq + 1, jl->prev, &line, hash, err) != 0 ||
        buf_append(&line, "\n", 1, err) != 0)
        goto out;
    ssize_t n;
    do {
        n = write(jl->fd, line.data, line.len);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)line.len) {
        int e = n < 0 ? errno : ENOSPC;
        /* Never leave a partial line for the next append to follow. */
        if (n > 0 && ftruncate(jl->fd, jl->size) != 0)
            log_error("audit: cannot cut partial line in %s: %s", jl->path, strerror(errno));
        err_set_errno(err, ERR_UNAVAILABLE, e, "append to %s", jl->path);
        goto out;
    }
    jl->seq++;
    memcpy(jl->prev, hash, 65);
    jl->size += (off_t)line.len;
    pthread_mutex_unlock(&jl->mu);
    rc = 0;
    if (ev->deferred_sync)
        atomic_store(&jl->dirty, true);
    else
        rc = sync_written(jl, err);
    buf_cleanup(&line);
    return rc;
out:
    pthread_mutex_unlock(&jl->mu);
    buf_cleanup(&line);
    return rc;
}

/* Line reader over a descriptor, bounded by the size taken at the start. */
struct reader {
    int fd;
    off_t pos, end;
    char *buf;
    size_t len, off; /* buffered bytes and the read position within them */
};

static void reader_init(struct reader *r, int fd, off_t end)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->end = end;
    r->buf = xmalloc(2 * LINE_MAX_BYTES);
}

/* 1 with *line and *len (without '\n') set, 0 at the end, -1 on error. A last line without '\n'
 * is returned as it is. */
static int reader_next(struct reader *r, const char **line, size_t *len, struct err *err)
{
    for (;;) {
        char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
        if (nl) {
            *line = r->buf + r->off;
            *len = (size_t)(nl - (r->buf + r->off));
            r->off = (size_t)(nl - r->buf) + 1;
            return 1;
        }
        if (r->pos >= r->end) {
            if (r->off < r->len) {
                *line = r->buf + r->off;
                *len = r->len - r->off;
                r->off = r->len;
                return 1;
            }
            return 0;
        }
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
        size_t room = 2 * LINE_MAX_BYTES - r->len;
        if (room == 0)
            return err_set(err, ERR_INTERNAL, "audit line longer than %d bytes",
                           2 * LINE_MAX_BYTES);
        if ((off_t)room > r->end - r->pos)
            room = (size_t)(r->end - r->pos);
        ssize_t n = pread(r->fd, r->buf + r->len, room, r->pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set_errno(err, ERR_UNAVAILABLE, errno, "read audit log");
        if (n == 0) {
            r->end = r->pos; /* shrank meanwhile */
            continue;
        }
        r->pos += n;
        r->len += (size_t)n;
    }
}

static void reader_cleanup(struct reader *r)
{
    free(r->buf);
}

static int open_for_reading(struct jsonl *jl, off_t *end, struct err *err)
{
    pthread_mutex_lock(&jl->mu);
    *end = jl->size;
    pthread_mutex_unlock(&jl->mu);
    int fd = open(jl->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set_errno(err, ERR_UNAVAILABLE, errno, "open %s", jl->path);
    return fd;
}

#define EXPORT_CHUNK (64 * 1024)

static int jl_export(struct auditlog *al, const struct audit_filter *f, enum audit_format fmt,
                     int (*sink)(void *ctx, const char *data, size_t len), void *ctx,
                     struct err *err)
{
    struct jsonl *jl = (struct jsonl *)al;
    off_t end;
    int fd = open_for_reading(jl, &end, err);
    if (fd < 0)
        return -1;
    struct reader r;
    reader_init(&r, fd, end);
    struct buf out;
    buf_init(&out, 0);
    int rc = 0;
    if (fmt == AUDIT_CSV)
        buf_append_str(&out, audit_csv_header, err);
    const char *line;
    size_t len;
    int more;
    uint64_t lineno = 0;
    struct audit_event *ev = xmalloc(sizeof(*ev));
    while ((more = reader_next(&r, &line, &len, err)) > 0) {
        lineno++;
        uint64_t seq;
        char prev[65], hash[65];
        struct err pe = {0};
        /* Export is not verify: a damaged line is reported in the log and skipped, so the
         * rest of the evidence still comes out. */
        if (audit__parse(line, len, false, ev, &seq, prev, hash, &pe) != 0) {
            log_warn("audit export: %s line %llu skipped: %s", jl->path, (unsigned long long)lineno,
                     pe.msg);
            continue;
        }
        if (f && f->has_since && ev->time_us < f->since_us)
            continue;
        if (f && f->has_until && ev->time_us >= f->until_us)
            continue;
        if (f && f->state_pattern && !pattern_match(f->state_pattern, ev->state))
            continue;
        if (fmt == AUDIT_CSV) {
            if (audit_event_csv(ev, seq, prev, hash, &out, err) != 0) {
                rc = -1;
                break;
            }
        } else if (buf_append(&out, line, len, err) != 0 || buf_append(&out, "\n", 1, err) != 0) {
            rc = -1;
            break;
        }
        if (out.len >= EXPORT_CHUNK) {
            rc = sink(ctx, out.data, out.len);
            buf_reset(&out);
            if (rc != 0)
                break;
        }
    }
    if (more < 0)
        rc = -1;
    if (rc == 0 && out.len > 0)
        rc = sink(ctx, out.data, out.len);
    free(ev);
    buf_cleanup(&out);
    reader_cleanup(&r);
    close(fd);
    return rc;
}

static int jl_read_after(struct auditlog *al, uint64_t after, unsigned limit,
                         int (*cb)(void *ctx, uint64_t seq, const struct audit_event *ev),
                         void *ctx, uint64_t *head, struct err *err)
{
    struct jsonl *jl = (struct jsonl *)al;
    off_t end;
    int fd = open_for_reading(jl, &end, err);
    if (fd < 0)
        return -1;
    struct reader r;
    reader_init(&r, fd, end);
    pthread_mutex_lock(&jl->mu);
    *head = jl->seq;
    if (jl->hint_seq <= after && jl->hint_off <= end)
        r.pos = jl->hint_off;
    pthread_mutex_unlock(&jl->mu);
    struct audit_event *ev = xmalloc(sizeof(*ev));
    const char *line;
    size_t len;
    int more = 0, rc = 0;
    unsigned n = 0;
    while (n < limit && (more = reader_next(&r, &line, &len, err)) > 0) {
        uint64_t seq;
        char prev[65], hash[65];
        struct err pe = {0};
        if (audit__parse(line, len, false, ev, &seq, prev, hash, &pe) != 0)
            continue; /* verify reports damage; delivery carries on with the rest */
        off_t next = r.pos - (off_t)(r.len - r.off);
        if (seq <= after)
            continue;
        if ((rc = cb(ctx, seq, ev)) != 0)
            break;
        n++;
        pthread_mutex_lock(&jl->mu);
        jl->hint_seq = seq;
        jl->hint_off = next;
        pthread_mutex_unlock(&jl->mu);
    }
    if (n < limit && rc == 0 && more < 0)
        rc = -1;
    free(ev);
    reader_cleanup(&r);
    close(fd);
    return rc;
}

static int jl_verify(struct auditlog *al, struct audit_verify_result *res, struct err *err)
{
    struct jsonl *jl = (struct jsonl *)al;
    audit__verify_reset(res);
    off_t end;
    int fd = open_for_reading(jl, &end, err);
    if (fd < 0)
        return -1;
    struct reader r;
    reader_init(&r, fd, end);
    struct audit__chain chain;
    audit__chain_init(&chain);
    const char *line;
    size_t len;
    int more, rc = 0;
    struct audit_event *ev = xmalloc(sizeof(*ev));
    while ((more = reader_next(&r, &line, &len, err)) > 0) {
        res->events++;
        res->line = res->events;
        uint64_t seq;
        char lprev[65], lhash[65];
        struct err pe = {0};
        if (audit_event_parse(line, len, ev, &seq, lprev, lhash, &pe) != 0) {
            /* Name the seq the line claims when it can still be read, else the expected one. */
            uint64_t claimed = 0;
            struct err pe2 = {0};
            if (audit__parse(line, len, false, ev, &claimed, NULL, NULL, &pe2) != 0)
                claimed = chain.want;
            res->first_broken = claimed;
            snprintf(res->reason, sizeof(res->reason), "event %llu was altered: %.150s",
                     (unsigned long long)claimed, pe.msg);
            break;
        }
        if (audit__chain_step(&chain, seq, lprev, lhash, res) != 0)
            break;
    }
    if (more < 0)
        rc = -1;
    if (res->first_broken == 0)
        res->line = 0;
    free(ev);
    reader_cleanup(&r);
    close(fd);
    return rc;
}

static int jl_ping(struct auditlog *al, struct err *err)
{
    struct jsonl *jl = (struct jsonl *)al;
    struct stat st;
    if (fstat(jl->fd, &st) != 0)
        return err_set_errno(err, ERR_HEALTH, errno, "audit log %s", jl->path);
    if (access(jl->dir, W_OK) != 0)
        return err_set_errno(err, ERR_HEALTH, errno, "audit dir %s not writable", jl->dir);
    return 0;
}

static int jl_head(struct auditlog *al, uint64_t *seq, char hash[65], struct err *err)
{
    struct jsonl *jl = (struct jsonl *)al;
    (void)err;
    pthread_mutex_lock(&jl->mu);
    *seq = jl->seq;
    memcpy(hash, jl->prev, 65);
    pthread_mutex_unlock(&jl->mu);
    return 0;
}

static void jl_free(struct auditlog *al)
{
    struct jsonl *jl = (struct jsonl *)al;
    if (!jl)
        return;
    if (jl->flusher_started) {
        pthread_mutex_lock(&jl->stop_mu);
        jl->stopping = true;
        pthread_cond_broadcast(&jl->stop_cv);
        pthread_mutex_unlock(&jl->stop_mu);
        pthread_join(jl->flusher, NULL);
    }
    if (jl->fd >= 0) {
        if (jl->flusher_started && fdatasync(jl->fd) != 0)
            log_error("audit: fdatasync %s: %s", jl->path, strerror(errno));
        close(jl->fd);
    }
    pthread_mutex_destroy(&jl->mu);
    groupsync_cleanup(&jl->sync);
    pthread_mutex_destroy(&jl->stop_mu);
    pthread_cond_destroy(&jl->stop_cv);
    free(jl->dir);
    free(jl->path);
    free(jl);
}

static const struct auditlog_ops jsonl_ops = {
    .append = jl_append,
    .export = jl_export,
    .verify = jl_verify,
    .read_after = jl_read_after,
    .ping = jl_ping,
    .head = jl_head,
    .free = jl_free,
    .kind = "jsonl",
};

struct auditlog *auditlog_jsonl_new(const char *dir, struct err *err)
{
    audit__metrics_register();
    if (!dir || !dir[0]) {
        err_set(err, ERR_INVALID, "no audit directory");
        return NULL;
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        err_set_errno(err, ERR_INVALID, errno, "audit dir %s", dir);
        return NULL;
    }
    struct jsonl *jl = xcalloc(1, sizeof(*jl));
    jl->base.ops = &jsonl_ops;
    pthread_mutex_init(&jl->mu, NULL);
    groupsync_init(&jl->sync, sync_lines, jl);
    pthread_mutex_init(&jl->stop_mu, NULL);
    pthread_cond_init(&jl->stop_cv, NULL);
    jl->dir = xstrdup(dir);
    jl->path = xasprintf("%s/audit.jsonl", dir);
    bool existed = access(jl->path, F_OK) == 0;
    jl->fd = open(jl->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (jl->fd < 0) {
        err_set_errno(err, ERR_INVALID, errno, "open %s", jl->path);
        jl_free(&jl->base);
        return NULL;
    }
    if ((!existed && fsync_dir(dir, ERR_UNAVAILABLE, err) != 0) || recover(jl, err) != 0) {
        jl_free(&jl->base);
        return NULL;
    }
    if (pthread_create(&jl->flusher, NULL, flusher_main, jl) != 0) {
        err_set(err, ERR_INTERNAL, "cannot start the audit flusher thread");
        jl_free(&jl->base);
        return NULL;
    }
    jl->flusher_started = true;
    return &jl->base;
}
