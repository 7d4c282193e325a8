/* tests/fuzz/fuzz_audit_parse.c: audit_event_parse must never crash or read out of bounds, and
 * must accept a line only when it is exactly the canonical text of the event it returns (so
 * the hash it vouches for is the one audit_event_canonical computes). The same input as a CSV
 * row (audit_event_csv_parse, what offline verify reads) must not crash either, and an event
 * read from a row must come back the same through audit_event_csv: the same canonical hash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void csv_roundtrip(const char *copy, size_t size)
{
    struct audit_event ev, back;
    uint64_t seq = 0, seq2 = 0;
    char prev[65], hash[65], p2[65], h2[65], c1[65], c2[65];
    struct err e = {0};
    if (audit_event_csv_parse(copy, size, &ev, &seq, prev, hash, &e) != 0) {
        if (e.code != ERR_INVALID || e.msg[0] == '\0')
            abort();
        return;
    }
    struct buf row, t;
    buf_init(&row, 0);
    buf_init(&t, 0);
    if (audit_event_csv(&ev, seq, prev, hash, &row, &e) != 0 ||
        audit_event_csv_parse(row.data, row.len, &back, &seq2, p2, h2, &e) != 0 || seq2 != seq ||
        strcmp(p2, prev) != 0 || strcmp(h2, hash) != 0 ||
        audit_event_canonical(&ev, seq, prev, &t, c1, &e) != 0 ||
        audit_event_canonical(&back, seq2, p2, &t, c2, &e) != 0 || strcmp(c1, c2) != 0)
        abort();
    buf_cleanup(&row);
    buf_cleanup(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy without a terminator, so any read past the end is caught by ASan. */
    char *copy = malloc(size ? size : 1);
    if (size > 0)
        memcpy(copy, data, size);
    struct audit_event ev;
    uint64_t seq = 0;
    char prev[65], hash[65];
    struct err e = {0};
    if (audit_event_parse(copy, size, &ev, &seq, prev, hash, &e) == 0) {
        struct buf b;
        buf_init(&b, 0);
        char again[65];
        if (audit_event_canonical(&ev, seq, prev, &b, again, &e) != 0 || strcmp(again, hash) != 0)
            abort();
        size_t n = size;
        while (n > 0 && (copy[n - 1] == '\n' || copy[n - 1] == '\r'))
            n--;
        if (b.len != n || memcmp(b.data, copy, n) != 0)
            abort();
        buf_cleanup(&b);
    } else if (e.code != ERR_INVALID || e.msg[0] == '\0') {
        abort();
    }
    csv_roundtrip(copy, size);
    free(copy);
    return 0;
}
