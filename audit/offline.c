/* audit/offline.c: verifying an exported file with no server (statectl audit verify --file).
 *
 * The export is the evidence handed to an auditor, so it is checked with the same rules as
 * the trail itself: each event's own hash (its canonical text, rebuilt from the CSV columns
 * for a CSV export) and the chain (audit__chain_step). The file is read as a stream, one
 * record at a time, so an export of millions of events never sits in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "common/util.h"

#define RECORD_MAX (64 * 1024) /* far above any event (its fields are bounded) */

/* The next record of f into rec without its line end: one line for JSON Lines, for CSV a row
 * whose quoted fields may hold line breaks. *lines counts the line breaks read; *start gets
 * the record's first line. 1: a record, 0: end of file, -1: error. */
static int next_record(FILE *f, bool csv, struct buf *rec, uint64_t *lines, uint64_t *start,
                       struct err *err)
{
    bool quoted = false;
    int ch;
    buf_reset(rec);
    *start = *lines + 1;
    while ((ch = getc(f)) != EOF) {
        if (ch == '\n') {
            (*lines)++;
            if (!quoted)
                break;
        }
        if (csv && ch == '"')
            quoted = !quoted;
        if (rec->len >= RECORD_MAX)
            return err_set(err, ERR_INVALID, "line %llu: record longer than %d bytes",
                           (unsigned long long)*lines + 1, RECORD_MAX);
        if (buf_append(rec, &(char){(char)ch}, 1, err) != 0)
            return -1;
    }
    if (ferror(f))
        return err_set_errno(err, ERR_INVALID, 0, "read error");
    if (ch == EOF && rec->len == 0)
        return 0;
    while (rec->len > 0 && rec->data[rec->len - 1] == '\r')
        rec->len--;
    return 1;
}

/* One record as an event with its chain fields, its own hash checked. */
static int read_event(const struct buf *rec, enum audit_format fmt, struct audit_event *ev,
                      uint64_t *seq, char prev[65], char hash[65], struct err *err)
{
    if (fmt == AUDIT_JSONL)
        return audit_event_parse(rec->data, rec->len, ev, seq, prev, hash, err);
    if (audit_event_csv_parse(rec->data, rec->len, ev, seq, prev, hash, err) != 0)
        return -1;
    struct buf text;
    char want[65];
    buf_init(&text, 0);
    int rc = audit_event_canonical(ev, *seq, prev, &text, want, err);
    buf_cleanup(&text);
    if (rc == 0 && strcmp(want, hash) != 0)
        rc = err_set(err, ERR_INVALID, "hash mismatch: the event's columns were changed");
    return rc;
}

/* The format from the first record: a JSON object or the CSV header. */
static int detect_format(const struct buf *first, enum audit_format *fmt, struct err *err)
{
    if (first->len > 0 && first->data[0] == '{') {
        *fmt = AUDIT_JSONL;
        return 0;
    }
    if (first->len >= 4 && memcmp(first->data, "seq,", 4) == 0) {
        *fmt = AUDIT_CSV;
        return 0;
    }
    return err_set(err, ERR_INVALID,
                   "not an audit export: the first line is neither a JSON event nor the CSV "
                   "header; give --format");
}

static int check_csv_header(const struct buf *first, struct err *err)
{
    size_t hl = strlen(audit_csv_header) - 2;
    if (first->len == hl && memcmp(first->data, audit_csv_header, hl) == 0)
        return 0;
    if (first->len >= 4 && memcmp(first->data, "seq,", 4) == 0)
        return err_set(err, ERR_INVALID,
                       "CSV header differs from this version's (an export without the prev "
                       "column cannot be verified: export it again)");
    return err_set(err, ERR_INVALID, "CSV export without its header line");
}

static void broken(struct audit_verify_result *res, uint64_t seq, uint64_t line, const char *why)
{
    res->first_broken = seq;
    res->line = line;
    snprintf(res->reason, sizeof(res->reason), "%s", why);
}

int audit_verify_file(FILE *f, enum audit_format *fmt, bool detect, struct audit_verify_result *res,
                      struct err *err)
{
    struct buf rec;
    struct audit__chain chain;
    struct audit_event *ev = xmalloc(sizeof(*ev));
    uint64_t lines = 0, line;
    int more, rc = 0;
    audit__verify_reset(res);
    audit__chain_init(&chain);
    buf_init(&rec, 0);
    /* The first line is read as a plain line: a JSON line's escaped quotes are no CSV quotes,
     * and the CSV header has none. */
    more = next_record(f, false, &rec, &lines, &line, err);
    if (more == 0)
        rc = err_set(err, ERR_INVALID, "empty file: no event to verify");
    else if (more < 0 || (detect && detect_format(&rec, fmt, err) != 0))
        rc = -1;
    else if (*fmt == AUDIT_CSV && (check_csv_header(&rec, err) != 0 ||
                                   (more = next_record(f, true, &rec, &lines, &line, err)) < 0))
        rc = -1;
    for (; rc == 0 && more > 0;
         more = next_record(f, *fmt == AUDIT_CSV, &rec, &lines, &line, err)) {
        uint64_t seq;
        char prev[65], hash[65];
        struct err pe = {0};
        if (rec.len == 0) /* a blank line is no event, and no evidence of tampering */
            continue;
        res->events++;
        if (read_event(&rec, *fmt, ev, &seq, prev, hash, &pe) != 0) {
            char why[200];
            snprintf(why, sizeof(why), "event %llu unreadable or altered: %.150s",
                     (unsigned long long)chain.want, pe.msg);
            broken(res, chain.want, line, why);
            break;
        }
        if (audit__chain_step(&chain, seq, prev, hash, res) != 0) {
            res->line = line;
            break;
        }
        res->last_seq = seq;
    }
    if (more < 0)
        rc = -1;
    free(ev);
    buf_cleanup(&rec);
    return rc;
}
