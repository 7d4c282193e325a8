/* tests/fuzz/fuzz_statediff.c: the value-level diff and the redaction on hostile states.
 *
 * The input is one state, or two separated by a NUL byte. Neither function may crash or read
 * out of bounds; a state compared with itself has no differences; a sensitive entry carries
 * no value; a redacted state is a state again, with the same serial and lineage, and
 * redacting it once more changes nothing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/statediff.h"
#include "common/statejson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_entries(json_t *arr)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        if (json_is_true(json_object_get(e, "sensitive")) &&
            (json_object_get(e, "old") != NULL || json_object_get(e, "new") != NULL))
            abort();
        check_entries(json_object_get(e, "attributes"));
    }
}

static void check_diff(const char *a, size_t alen, const char *b, size_t blen)
{
    struct err e = {0};
    json_t *ja = statediff_load(a, alen, "A", &e), *jb = NULL;
    if (ja == NULL) {
        if (e.code != ERR_INVALID)
            abort();
        return;
    }
    json_t *self = statediff_compute(ja, ja);
    if (json_array_size(json_object_get(self, "resources")) != 0 ||
        json_array_size(json_object_get(self, "outputs")) != 0)
        abort();
    json_decref(self);
    json_decref(statediff_outputs(ja));
    if ((jb = statediff_load(b, blen, "B", &e)) != NULL) {
        json_t *d = statediff_compute(ja, jb);
        check_entries(json_object_get(d, "resources"));
        check_entries(json_object_get(d, "outputs"));
        json_decref(d);
    }
    json_decref(ja);
    json_decref(jb);
}

static void check_redact(const char *data, size_t size)
{
    struct buf once, twice;
    struct state_summary s0, s1;
    struct err e = {0};
    buf_init(&once, 0);
    buf_init(&twice, 0);
    if (statejson_redact(data, size, &once, &e) == 0) {
        if (statejson_scan(data, size, &s0, &e) != 0 ||
            statejson_scan(once.data, once.len, &s1, &e) != 0 || s0.serial != s1.serial ||
            strcmp(s0.lineage, s1.lineage) != 0)
            abort();
        if (statejson_redact(once.data, once.len, &twice, &e) != 0 || twice.len != once.len ||
            memcmp(twice.data, once.data, once.len) != 0)
            abort();
    } else if (e.code != ERR_INVALID || once.len != 0) {
        abort();
    }
    buf_cleanup(&once);
    buf_cleanup(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Private copies without a terminator, so any read past the end is caught by ASan. */
    const uint8_t *nul = memchr(data, 0, size);
    size_t alen = nul != NULL ? (size_t)(nul - data) : size;
    size_t blen = nul != NULL ? size - alen - 1 : size;
    char *a = malloc(alen ? alen : 1), *b = malloc(blen ? blen : 1);
    memcpy(a, data, alen);
    memcpy(b, nul != NULL ? (const char *)nul + 1 : (const char *)data, blen);
    check_diff(a, alen, b, blen);
    check_redact(a, alen);
    free(a);
    free(b);
    return 0;
}
