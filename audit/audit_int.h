/* audit/audit_int.h: helpers shared by the files of audit/ (not part of the API in audit.h). */
#ifndef STATED_AUDIT_INT_H
#define STATED_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "common/err.h"

/* audit_event_parse with the canonical-form and hash check optional: export filters a log
 * whose lines it does not vouch for (verify does). */
int audit__parse(const char *line, size_t len, bool check, struct audit_event *ev, uint64_t *seq,
                 char prev[65], char hash[65], struct err *err);

#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

#endif
