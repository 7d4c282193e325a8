/* common/suggest.c: the nearest word, for "did you mean ...?" in stackgen's and the
 * configuration files' messages.
 *
 * The distance is the optimal string alignment distance: inserting, deleting or replacing one
 * byte, or swapping two adjacent ones, costs one edit each, and no part of a string is edited
 * twice. Swaps count as one edit because swapped letters are the most common slip at a
 * keyboard: "memroy" is one edit from "memory" here, two for plain Levenshtein, which would put
 * such typos of short words past the threshold below.
 *
 * A word is suggested only when it is close: at most 2 edits, and at most a third of the typed
 * length (yet always 1 edit), so "cpus" gives "cpu" and "regoin" gives "region" while "qa" gives
 * no environment at all. A farther guess is wrong more often than right, and a wrong "did you
 * mean" costs the reader more than a list of the valid words. Among equally close words the
 * first in the candidates' order wins: callers list their words in a deliberate order. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define NEAR_MAX_EDITS 2

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

size_t word_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    /* Three rows of the usual table: the one before last (for swaps), the last, the current. */
    size_t *rows = xcalloc(3 * (m + 1), sizeof(*rows));
    size_t *before = rows, *last = rows + (m + 1), *cur = rows + 2 * (m + 1);
    for (size_t j = 0; j <= m; j++)
        last[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t replace = last[j - 1] + (a[i - 1] != b[j - 1]);
            size_t d = min_size(replace, min_size(last[j], cur[j - 1]) + 1);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d = min_size(d, before[j - 2] + 1);
            cur[j] = d;
        }
        size_t *spare = before;
        before = last;
        last = cur;
        cur = spare;
    }
    size_t d = last[m];
    free(rows);
    return d;
}

/* How many edits still make a typo of s: a third of its length, between 1 and NEAR_MAX_EDITS. */
static size_t near_limit(const char *s)
{
    size_t third = strlen(s) / 3;
    return third < 1 ? 1 : min_size(third, NEAR_MAX_EDITS);
}

const char *word_nearest(const char *s, const char *const *candidates)
{
    size_t limit = near_limit(s), n = strlen(s);
    const char *best = NULL;
    size_t best_edits = limit + 1;
    for (const char *const *w = candidates; *w; w++) {
        size_t m = strlen(*w);
        /* The distance is at least the difference in length: skip the work when that is
         * already too far (and keep a long typed string from costing length x length). */
        if ((m > n ? m - n : n - m) > limit)
            continue;
        size_t edits = word_edit_distance(s, *w);
        if (edits < best_edits) {
            best = *w;
            best_edits = edits;
        }
    }
    return best;
}
