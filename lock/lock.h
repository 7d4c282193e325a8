/* lock/lock.h: state locks as leases. The whole API of lock/.
 *
 * A lock is a lease (DESIGN.md "Locks"): taken by LOCK, renewed by every accepted write that
 * carries its ID, released by UNLOCK, and expired `ttl` after its last renewal. An expired lease
 * is free: the next acquire takes it over and reports whose lease expired. Two drivers sit
 * behind one vtable: the embedded store (a file under the data dir, one stated instance) and
 * PostgreSQL (any number of instances; acquisition is one atomic statement). Time comes from the
 * driver's own clock (PostgreSQL's now() for the PostgreSQL driver), never from the client.
 *
 * Threads: any worker thread may call any function concurrently; none may run on an event loop
 * thread. Failures to reach the backing service are ERR_UNAVAILABLE (503 + Retry-After). */
#ifndef STATED_LOCK_H
#define STATED_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

#define LOCK_ID_MAX    256 /* IDs longer than 255 bytes are refused with ERR_INVALID */
#define LOCK_OWNER_MAX 400 /* the identity that took a lock, as auth_owner writes it */

struct lock_holder {
    char id[LOCK_ID_MAX];
    char owner[LOCK_OWNER_MAX]; /* who took it (authenticated, not the client's claim); "" for
                                   leases taken before owners were recorded */
    char *info_json;    /* the client's lock info JSON, verbatim (malloc'd; lock_holder_cleanup) */
    int64_t created_us; /* when the lease was taken, server clock */
    int64_t renewed_us; /* last renewal */
    int64_t expires_us; /* renewed_us + ttl */
};
void lock_holder_cleanup(struct lock_holder *h);
/* Deep copy (dst's previous content is not freed). */
void lock_holder_copy(struct lock_holder *dst, const struct lock_holder *src);
/* The lock info JSON to show a client (the 423 body, `locks list`): the client's info object
 * verbatim when its "ID" is the holder's and its "Created" is RFC 3339 (what Terraform and
 * OpenTofu parse); otherwise that object with "ID" set to h->id and "Created" to the lease
 * creation time, or {"ID":…,"Created":…} when the info is missing or not an object. Returns a
 * new string (caller frees). */
char *lock_holder_info_json(const struct lock_holder *h);
/* A field of a lock info object, matched as Go's json.Unmarshal does: an exact key first,
 * else case-insensitively. Borrowed; NULL when absent. */
struct json_t;
struct json_t *lock_info_field(struct json_t *info, const char *key);

enum lock_outcome {
    LOCK_ACQUIRED,   /* was free */
    LOCK_REENTERED,  /* already held by the same ID (a client retry): lease renewed */
    LOCK_TAKEN_OVER, /* an expired lease was taken over; `previous` names it */
    LOCK_RELEASED,   /* unlock released a held lock; `previous` names it */
    LOCK_NOT_HELD,   /* unlock with nothing held (or only an expired lease): nothing to do */
    LOCK_RENEWED,    /* write check: the live holder wrote, lease renewed */
    LOCK_FREE,       /* write check: no ID given and no live lock: write allowed */
};

struct lock_result {
    enum lock_outcome outcome;
    struct lock_holder holder;   /* on ERR_LOCKED: the live holder; on success: the lease now */
    struct lock_holder previous; /* LOCK_TAKEN_OVER: the expired lease; LOCK_RELEASED: released */
};
void lock_result_init(struct lock_result *r);
void lock_result_cleanup(struct lock_result *r);

struct lock_entry {
    const char *state;
    const struct lock_holder *holder;
};

/* What the metrics show of the leases, across every instance sharing the lock store. */
struct lock_stats {
    uint64_t held;         /* live leases */
    int64_t oldest_age_us; /* age of the oldest live lease (since it was taken); 0 when none */
};

struct lockstore;
struct lockstore_ops {
    /* LOCK. 0 with outcome ACQUIRED, REENTERED or TAKEN_OVER; -1 with ERR_LOCKED and
     * res->holder set when another ID holds a live lease. info_json is stored verbatim, owner
     * (the authenticated identity) with it; a re-entry keeps the first owner. */
    int (*acquire)(struct lockstore *ls, const char *state, const char *id, const char *info_json,
                   const char *owner, struct lock_result *res, struct err *err);
    /* UNLOCK. id NULL means force (any holder is released). 0 with RELEASED or NOT_HELD; -1
     * with ERR_LOCKED and res->holder when id names another live holder. */
    int (*release)(struct lockstore *ls, const char *state, const char *id, struct lock_result *res,
                   struct err *err);
    /* Before a write. id NULL: allowed (LOCK_FREE) iff no live lease. id given: allowed
     * (LOCK_RENEWED, lease renewed) iff it is the live holder's ID. Else -1 with ERR_LOCKED
     * (res->holder set when a live lease exists; an ID with no lock held is also ERR_LOCKED,
     * so a writer whose lease expired never writes). */
    int (*check_write)(struct lockstore *ls, const char *state, const char *id,
                       struct lock_result *res, struct err *err);
    /* Live holder of state: 0 and res->holder set; ERR_NOT_FOUND when none. */
    int (*get)(struct lockstore *ls, const char *state, struct lock_result *res, struct err *err);
    /* The expired lease still recorded for state (the one the next acquire would take over):
     * 0 and res->previous set; ERR_NOT_FOUND when the state has none, or a live one. Lets the
     * caller record the expiry before the takeover removes it. */
    int (*expired)(struct lockstore *ls, const char *state, struct lock_result *res,
                   struct err *err);
    /* Calls cb for every live lease, in state-name order. */
    int (*list)(struct lockstore *ls, int (*cb)(void *ctx, const struct lock_entry *e), void *ctx,
                struct err *err);
    /* The live leases counted and the oldest one's age, by the driver's clock: one aggregate
     * query in PostgreSQL, a walk of the table in memory for the embedded driver. */
    int (*stats)(struct lockstore *ls, struct lock_stats *out, struct err *err);
    int (*ping)(struct lockstore *ls, struct err *err);
    /* Shared progress of background work, for drivers several instances share (NULL in the
     * embedded driver, whose single instance keeps its own file). cursor_claim takes or renews
     * the lease on name for owner (lease_us long) unless another owner holds a live one: *mine
     * tells which, and when mine *cursor is the stored position (initial for a new name).
     * cursor_save moves it forward, only while owner holds the lease (*kept false when not).
     * report_once records (state, lock_id): *first true only for the first caller ever. */
    int (*cursor_claim)(struct lockstore *ls, const char *name, const char *owner, int64_t lease_us,
                        uint64_t initial, uint64_t *cursor, bool *mine, struct err *err);
    int (*cursor_save)(struct lockstore *ls, const char *name, const char *owner, uint64_t cursor,
                       bool *kept, struct err *err);
    int (*report_once)(struct lockstore *ls, const char *state, const char *lock_id, bool *first,
                       struct err *err);
    void (*free)(struct lockstore *ls);
    const char *kind; /* "embedded" or "postgres" */
};
struct lockstore {
    const struct lockstore_ops *ops;
    int64_t ttl_us; /* lease length, at most 1 h */
};

#define LOCK_TTL_MAX_US (3600LL * 1000000)

/* Embedded driver: leases kept in memory and persisted to DIR/locks.json (temp file, fsync,
 * rename) on every change, so they survive a restart. One stated instance per data dir. */
struct lockstore *lockstore_embedded_new(const char *dir, int64_t ttl_us, struct err *err);
/* PostgreSQL driver: conninfo is a URL or a libpq conninfo string. Applies the versioned schema
 * migrations (safe when several instances start at once). One connection per worker thread,
 * reconnecting with backoff. */
struct lockstore *lockstore_pg_new(const char *conninfo, int64_t ttl_us, struct err *err);

#endif
