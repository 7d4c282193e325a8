/* audit/audit.h: the tamper-evident audit trail. The whole API of audit/.
 *
 * Every request that reads or changes a state, takes or releases a lock, or fails
 * authentication produces one event. Events form a hash chain: each carries its sequence number
 * and the SHA-256 of the previous event, and its own hash covers its canonical text, so
 * `verify` finds a changed, removed or reordered event. The canonical text is one JSON object
 * with the keys in a fixed order (audit_event_canonical), identical for both drivers:
 * JSON Lines under the data dir (embedded) and an append-only PostgreSQL table.
 *
 * Threads: append may be called from any worker thread; appends are serialised so the chain
 * order is the commit order (across instances for PostgreSQL). */
#ifndef STATED_AUDIT_H
#define STATED_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/err.h"

struct audit_event {
    int64_t time_us;
    char request_id[40];
    char actor[128];    /* token name; "" when authentication failed */
    char username[128]; /* HTTP Basic username, "" for Bearer */
    char remote[64];    /* client address */
    char action[32];    /* "get", "write", "delete", "lock", "unlock", "force-unlock",
                           "lock-expired", "auth-failed", "restore", "snapshot-read",
                           "token-create", "token-revoke", "list", "export", ... */
    char state[1040];
    char lock_id[256];
    uint64_t serial; /* the state's serial, when has_serial */
    bool has_serial;
    char lineage[129];
    char sha256[65];
    int64_t size;     /* -1 when not applicable */
    int status;       /* HTTP status answered */
    char detail[256]; /* short human note, e.g. "lease of ID x expired"; never secrets */
    /* In the text only when not empty, in this order, after "detail" (so events written before
     * these fields existed read and verify unchanged). */
    char peer[64];    /* the connection's address when remote is a forwarded one */
    char issuer[256]; /* a JWT caller's iss, sub and jti */
    char subject[256];
    char jti[128];
    char lock_who[256]; /* the lock info the client sent: Who, Operation, Info */
    char lock_operation[64];
    char lock_info[256];
    char lock_owner[400]; /* force-unlock: the identity that took the lock (lock.h owner) */
    /* Not part of the event's text: true for requests that changed nothing (reads, listings,
     * failed authentication). The append still reaches the log before it returns, but the
     * embedded driver may return before the disk flush (within 100 ms), so reads are not
     * throttled by fdatasync. State-changing events are always durable on return. */
    bool deferred_sync;
};
/* Sets numeric fields to "not applicable" (no serial, size -1) and strings to "". */
void audit_event_init(struct audit_event *ev);

/* The canonical text of an event with its chain fields, without a trailing newline:
 * {"seq":N,"time":"…","request_id":"…","actor":"…","username":"…","remote":"…","action":"…",
 *  "state":"…","lock_id":"…","serial":N|"N"|null,"lineage":"…","sha256":"…","size":N|null,
 *  "status":N,"detail":"…"[,"peer":"…"][,"issuer":"…"][,"subject":"…"][,"jti":"…"]
 *  [,"lock_who":"…"][,"lock_operation":"…"][,"lock_info":"…"]
 *  [,"lock_owner":"…"],"prev":"<64 hex>","hash":"<64 hex>"}
 * where hash = SHA-256 of the same text up to and including the prev field followed by '}'.
 * A serial above 2^63-1 is a decimal string (common/json.h); smaller ones are numbers. The
 * bracketed keys appear only when their value is not empty.
 * The first event's prev is 64 zeros. */
int audit_event_canonical(const struct audit_event *ev, uint64_t seq, const char prev[65],
                          struct buf *out, char hash_out[65], struct err *err);
/* Parses one canonical line back (export filters, verify). Checks the line's own hash:
 * ERR_INVALID when it does not match. seq, prev and hash are returned. */
int audit_event_parse(const char *line, size_t len, struct audit_event *ev, uint64_t *seq,
                      char prev[65], char hash[65], struct err *err);

enum audit_format { AUDIT_JSONL, AUDIT_CSV };

struct audit_filter {
    bool has_since, has_until;  /* false: unbounded on that side (the epoch is a bound) */
    int64_t since_us, until_us; /* since inclusive, until exclusive */
    const char *state_pattern;  /* NULL: all; pattern_match() syntax */
};

struct audit_anchors;
struct audit_verify_result {
    /* Input, kept by every verifier: anchors the chain must agree with and reach (NULL: none).
     * Each event whose seq an anchor records must have the anchor's hash. */
    const struct audit_anchors *anchors;
    uint64_t events;       /* events checked */
    uint64_t first_broken; /* seq of the first broken event, 0 when the chain is intact */
    uint64_t line;         /* its line in the file (offline verify, JSON Lines driver), or 0 */
    uint64_t last_seq;     /* seq of the last event that continued the chain */
    char reason[300];
};

struct auditlog;
struct auditlog_ops {
    int (*append)(struct auditlog *al, const struct audit_event *ev, struct err *err);
    /* Streams matching events in chain order, formatted, to sink in chunks (never the whole
     * export in memory). A non-zero return from sink stops the export and is returned. */
    int (*export)(struct auditlog *al, const struct audit_filter *f, enum audit_format fmt,
                  int (*sink)(void *ctx, const char *data, size_t len), void *ctx, struct err *err);
    int (*verify)(struct auditlog *al, struct audit_verify_result *res, struct err *err);
    /* Read only: up to limit events with seq > after, in seq order, each handed to cb (a
     * non-zero return stops and is returned). *head is set to the newest seq in the trail.
     * What webhook delivery reads: the trail is its outbox. */
    int (*read_after)(struct auditlog *al, uint64_t after, unsigned limit,
                      int (*cb)(void *ctx, uint64_t seq, const struct audit_event *ev), void *ctx,
                      uint64_t *head, struct err *err);
    int (*ping)(struct auditlog *al, struct err *err);
    /* The chain head: seq and hash of the last event (0 and 64 zeros when empty). */
    int (*head)(struct auditlog *al, uint64_t *seq, char hash[65], struct err *err);
    void (*free)(struct auditlog *al);
    const char *kind; /* "jsonl" or "postgres" */
};
struct auditlog {
    const struct auditlog_ops *ops;
};

/* CSV header line (with newline) and one event as a CSV row (RFC 4180 quoting), with its
 * chain fields (prev and hash: the last two columns), so an exported file can be verified. */
extern const char audit_csv_header[];
int audit_event_csv(const struct audit_event *ev, uint64_t seq, const char prev[65],
                    const char hash[65], struct buf *out, struct err *err);
/* Reads one CSV row (without its header) back into the event and its chain fields.
 * ERR_INVALID when it is not such a row; the hash is not checked here (audit_verify_file). */
int audit_event_csv_parse(const char *row, size_t len, struct audit_event *ev, uint64_t *seq,
                          char prev[65], char hash[65], struct err *err);

/* Offline verification of an export (no server, no driver): reads f to its end, JSON Lines or
 * CSV (*fmt; with detect set, found from the first line and returned in *fmt), and checks
 * every event's own hash and the chain from event 1, as the drivers' verify does. A line that
 * is no event is a break too. Fills res (first_broken 0: intact; line: where it broke);
 * returns -1 only when f cannot be read or its format is unknown. An intact file proves
 * events 1..last_seq only: a removed tail leaves a valid shorter chain. */
int audit_verify_file(FILE *f, enum audit_format *fmt, bool detect, struct audit_verify_result *res,
                      struct err *err);

/* ------------------------------------------------------------------ anchors (anchor.c)
 *
 * An anchor is the chain head (seq, hash) at a moment, written outside the trail (the object
 * store, under audit/anchors/), so removing the newest events or rewriting the chain from
 * some point is seen: the trail must reach the newest anchor and agree with every anchor's
 * hash. With a signing key each anchor carries an Ed25519 signature over its canonical text:
 *
 *   stated-audit-anchor 1\nseq N\nhash HEX\ntime RFC3339\ninstance ID\n
 *
 * The object is JSON: {"seq":N,"hash":"…","time":"…","instance":"…","signature":"BASE64"|""}. */
struct audit_anchor {
    uint64_t seq;
    char hash[65];
    int64_t time_us;
    char instance[64];
    char signature[96]; /* base64 of the 64-byte signature; "" unsigned */
};
struct audit_anchors {
    struct audit_anchor *v; /* ascending seq */
    size_t n, cap;
};
#define AUDIT_ANCHOR_PREFIX "audit/anchors/"
/* The canonical text signed (without the signature). */
int audit_anchor_text(const struct audit_anchor *a, struct buf *out, struct err *err);
int audit_anchor_encode(const struct audit_anchor *a, struct buf *out, struct err *err);
/* ERR_INVALID when data is no anchor object. */
int audit_anchor_decode(const char *data, size_t len, struct audit_anchor *a, struct err *err);
/* The object key: AUDIT_ANCHOR_PREFIX, seq in 20 digits (keys sort by seq), the instance. */
void audit_anchor_key(const struct audit_anchor *a, char *out, size_t cap);
/* Ed25519 keys from PEM files (openssl genpkey -algorithm ed25519; openssl pkey -pubout). */
void *audit_key_load(const char *path, bool private_key, struct err *err);
void audit_key_free(void *key);
int audit_anchor_sign(struct audit_anchor *a, void *private_key, struct err *err);
/* 0 when the signature is valid for pub; ERR_INVALID (unsigned, or altered) otherwise. */
int audit_anchor_check_signature(const struct audit_anchor *a, void *public_key, struct err *err);
/* Adds a copy, keeping seq order. */
void audit_anchors_add(struct audit_anchors *s, const struct audit_anchor *a);
void audit_anchors_cleanup(struct audit_anchors *s);
/* Reads every *.json anchor in dir (statectl audit verify --anchors DIR). With pub, each
 * signature must verify: ERR_INVALID naming the file otherwise. */
int audit_anchors_load_dir(struct audit_anchors *s, const char *dir, void *pub, struct err *err);
/* After a verifier ran with res->anchors: an intact chain that stops before the newest anchor
 * is broken (truncated), named with the anchor. */
void audit_anchors_final(struct audit_verify_result *res);

/* Counts one append's outcome (stated_audit_events_total, stated_audit_append_errors_total):
 * the caller of append counts each event once; the JSON Lines driver adds the failures only it
 * sees (a group commit's fdatasync of events already answered). */
void audit_count_append(bool ok);

/* Embedded: DIR/audit.jsonl, O_APPEND, one write(2) per event, fdatasync before returning. */
struct auditlog *auditlog_jsonl_new(const char *dir, struct err *err);
/* PostgreSQL: table audit_events; UPDATE and DELETE refused by a trigger. */
struct auditlog *auditlog_pg_new(const char *conninfo, struct err *err);

#endif
