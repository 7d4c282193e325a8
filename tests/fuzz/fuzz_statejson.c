/* tests/fuzz/fuzz_statejson.c: statejson_scan must never crash, read out of bounds or accept a
 * body without a numeric serial and a string lineage. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/statejson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    } else if (e.code != ERR_INVALID || e.msg[0] == '\0') {
        abort();
    }
    free(copy);
    return 0;
}
