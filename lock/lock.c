/* lock/lock.c: what both lock drivers share: holder and result lifetimes, and the lock info
 * JSON shown to clients. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    memcpy(dst->owner, src->owner, sizeof(dst->owner));
    dst->owner[sizeof(dst->owner) - 1] = '\0';
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

json_t *lock_info_field(json_t *info, const char *key)
{
    json_t *v = json_object_get(info, key);
    if (v != NULL)
        return v;
    const char *k;
    json_object_foreach(info, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

/* What Go's time.Time accepts in JSON: RFC 3339 with a 'T' and a zone. */
static bool rfc3339_ok(const char *s)
{
    int64_t us;
    size_t n = strlen(s);
    return n >= 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
           (s[n - 1] == 'Z' || strchr(s + 19, '+') != NULL || strchr(s + 19, '-') != NULL) &&
           time_parse_rfc3339(s, &us) == 0;
}

char *lock_holder_info_json(const struct lock_holder *h)
{
    json_t *o = h->info_json != NULL ? json_loads(h->info_json, 0, NULL) : NULL;
    if (o != NULL && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    if (o != NULL) {
        json_t *id = lock_info_field(o, "ID");
        json_t *c = lock_info_field(o, "Created");
        if (json_is_string(id) && strcmp(json_string_value(id), h->id) == 0 && json_is_string(c) &&
            rfc3339_ok(json_string_value(c))) {
            json_decref(o);
            return xstrdup(h->info_json); /* verbatim: what the holder sent */
        }
    } else {
        o = json_object();
    }
    /* Rebuild: clients need a non-empty ID (or -lock-timeout gives up at once) and an RFC 3339
     * Created (or the whole body fails to parse). */
    char created[32];
    time_format_rfc3339(h->created_us, created);
    json_t *idv = json_string(h->id);
    json_object_set_new(o, "ID", idv != NULL ? idv : json_string("(not UTF-8)"));
    json_object_set_new(o, "Created", json_string(created));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        die_bug("json_dumps of lock info failed");
    char *r = xstrdup(s);
    free(s);
    return r;
}
