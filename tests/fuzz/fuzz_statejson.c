/* tests/fuzz/fuzz_statejson.c: statejson_scan must never crash, read out of bounds or accept a
 * body without a numeric serial and a string lineage; the rewrites of an accepted body must be
 * states again, with the same lineage (and, for the restore rewrite, the new serial). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/statejson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rewrites(const char *data, size_t size, const struct state_summary *sum)
{
    struct buf b;
    struct state_summary again;
    struct err e = {0};
    buf_init(&b, 0);
    if (statejson_rewrite_serial(data, size, 42, &b, &e) == 0 &&
        (statejson_scan(b.data, b.len, &again, &e) != 0 || again.serial != 42 ||
         strcmp(again.lineage, sum->lineage) != 0))
        abort();
    err_clear(&e);
    int rc = statejson_outputs_view(data, size, &b, &e);
    if (rc == 0 && (sum->is_encrypted || statejson_scan(b.data, b.len, &again, &e) != 0 ||
                    again.serial != sum->serial || strcmp(again.lineage, sum->lineage) != 0))
        abort();
    if (rc != 0 && !sum->is_encrypted)
        abort();
    buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy without a terminator, so any read past the end is caught by ASan. */
    char *copy = calloc(1, size ? size : 1);
    if (size > 0)
        memcpy(copy, data, size);
    struct state_summary sum;
    struct err e = {0};
    int rc = statejson_scan(copy, size, &sum, &e);
    if (rc == 0) {
        if (strlen(sum.lineage) > 128 || size < 2 || copy[0] == '[')
            abort();
        check_rewrites(copy, size, &sum);
    } else if (e.code != ERR_INVALID || e.msg[0] == '\0') {
        abort();
    }
    free(copy);
    return 0;
}
