/* lock/lock.c: what both lock drivers share: holder and result lifetimes, and the lock info
 * JSON shown to clients. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/util.h"
#include "lock/lock.h"

void lock_holder_cleanup(struct lock_holder *h)
{
    if (!h)
        return;
    free(h->info_json);
    memset(h, 0, sizeof(*h));
}

void lock_holder_copy(struct lock_holder *dst, const struct lock_holder *src)
{
    memcpy(dst->id, src->id, sizeof(dst->id));
    dst->id[sizeof(dst->id) - 1] = '\0';
    dst->info_json = src->info_json ? xstrdup(src->info_json) : NULL;
    dst->created_us = src->created_us;
    dst->renewed_us = src->renewed_us;
    dst->expires_us = src->expires_us;
}

void lock_result_init(struct lock_result *r)
{
    memset(r, 0, sizeof(*r));
}

void lock_result_cleanup(struct lock_result *r)
{
    if (!r)
        return;
    lock_holder_cleanup(&r->holder);
    lock_holder_cleanup(&r->previous);
}

static bool nonempty_string(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) && json_string_length(v) > 0;
}

char *lock_holder_info_json(const struct lock_holder *h)
{
    json_t *o = NULL;
    if (h->info_json && h->info_json[0])
        o = json_loads(h->info_json, JSON_DECODE_ANY, NULL);
    if (json_is_object(o) && nonempty_string(o, "ID") && nonempty_string(o, "Created")) {
        json_decref(o);
        return xstrdup(h->info_json); /* verbatim: the client may compare it */
    }
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    /* Clients need a non-empty ID (force-unlock prints it) and a parseable Created. */
    if (!nonempty_string(o, "ID"))
        json_object_set_new(o, "ID", json_string(h->id));
    if (!nonempty_string(o, "Created")) {
        char t[32];
        time_format_rfc3339(h->created_us, t);
        json_object_set_new(o, "Created", json_string(t));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        die_bug("json_dumps of lock info failed");
    char *r = xstrdup(s);
    free(s);
    return r;
}
