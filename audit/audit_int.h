/* audit/audit_int.h: helpers shared by the files of audit/ (not part of the API in audit.h). */
#ifndef STATED_AUDIT_INT_H
#define STATED_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "common/err.h"

/* Registers the metrics of audit/metrics.c (each driver's constructor). */
void audit__metrics_register(void);
/* Counts a batch refused because the chain head moved (audit/pg.c). */
void audit__count_conflict(void);

/* audit_event_parse with the canonical-form and hash check optional: export filters a log
 * whose lines it does not vouch for (verify does). */
int audit__parse(const char *line, size_t len, bool check, struct audit_event *ev, uint64_t *seq,
                 char prev[65], char hash[65], struct err *err);

/* The chain rule, written once for every verifier: events come in seq order from 1, each
 * naming the previous one's hash as its prev (the first: AUDIT_ZERO_HASH). */
struct audit__chain {
    uint64_t want; /* the seq the next event must have */
    char prev[65]; /* the hash it must name */
};
void audit__chain_init(struct audit__chain *c);
/* 0 when the event continues the chain (which then moves past it); -1 with first_broken and
 * the reason set in res when it does not. */
int audit__chain_step(struct audit__chain *c, uint64_t seq, const char prev[65],
                      const char hash[65], struct audit_verify_result *res);

/* Clears a result for a new verify, keeping its input (res->anchors). */
void audit__verify_reset(struct audit_verify_result *res);
/* -1 with res set when an anchor records seq with another hash (anchor.c). */
int audit__anchor_step(const struct audit_anchors *s, uint64_t seq, const char hash[65],
                       struct audit_verify_result *res);

#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

#endif
