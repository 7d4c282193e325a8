/* module/gen/suggest.c: "did you mean ...?" for keys, enum values and names a stack refers to:
 * the nearest candidate (common/suggest.c, word_nearest), else the list of valid words. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "module/gen/gen_int.h"

char *gen_suggest(const char *s, const char *const *candidates, const char *listed_as)
{
    const char *near = word_nearest(s, candidates);
    struct buf b;
    size_t len;
    buf_init(&b, 0);
    if (near) {
        char *q = gen_show(near);
        buf_printf(&b, NULL, " (did you mean %s?)", q);
        free(q);
    } else if (listed_as && *candidates) {
        buf_printf(&b, NULL, " (%s ", listed_as);
        gen_list_strings(&b, candidates);
        buf_append_str(&b, ")", NULL);
    }
    return buf_take(&b, &len);
}
