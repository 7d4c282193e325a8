/* store/keys.c: the keys of state objects, in both layouts (store_int.h). */
#include <string.h>

#include "common/json.h"
#include "store/store_int.h"

/* The parts that differ between the layouts. */
static const char *current_base(int layout)
{
    return layout == 1 ? "current" SNAP_SUFFIX : "@current" SNAP_SUFFIX;
}

static const char *snapdir_base(int layout)
{
    return layout == 1 ? "snapshots" : "@snapshots";
}

char *store__key_current(const char *name, int layout)
{
    return xasprintf("states/%s/%s", name, current_base(layout));
}

char *store__key_snapdir(const char *name, int layout)
{
    return xasprintf("states/%s/%s/", name, snapdir_base(layout));
}

char *store__key_snapshot(const char *name, const char *id, int layout)
{
    return xasprintf("states/%s/%s/%s" SNAP_SUFFIX, name, snapdir_base(layout), id);
}

bool store__is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool store__snapshot_id_parse(const char *s, size_t n, int64_t *seq, uint64_t *serial,
                              char sha12[13])
{
    if (n < 16 + 1 + 1 + 1 + 12 || n > 16 + 1 + 20 + 1 + 12 || s[16] != '-')
        return false;
    /* SEQ: 16 digits, zero-padded (at most 10^16 - 1, far inside int64). */
    int64_t seq_v = 0;
    for (int i = 0; i < 16; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        seq_v = seq_v * 10 + (s[i] - '0');
    }
    uint64_t serial_v;
    size_t serial_len = n - 16 - 1 - 1 - 12;
    const char *sp = s + 17, *hp = sp + serial_len + 1;
    if (!u64_parse_decimal(sp, serial_len, &serial_v) || sp[serial_len] != '-' ||
        !store__is_lower_hex(hp, 12))
        return false;
    if (seq)
        *seq = seq_v;
    if (serial)
        *serial = serial_v;
    if (sha12) {
        memcpy(sha12, hp, 12);
        sha12[12] = '\0';
    }
    return true;
}

/* True when the n bytes at s are a valid state name; copies it to out. */
static bool take_name(const char *s, size_t n, struct skey *out)
{
    struct err e = {0};
    if (n == 0 || n >= sizeof(out->name) || state_name_check(s, n, &e) != 0)
        return false;
    memcpy(out->name, s, n);
    out->name[n] = '\0';
    return true;
}

enum skey_kind store__key_parse(const char *key, int layout, struct skey *out)
{
    static const char root[] = "states/";
    memset(out, 0, sizeof(*out));
    if (strncmp(key, root, sizeof(root) - 1) != 0)
        return SKEY_OTHER;
    const char *rest = key + sizeof(root) - 1;
    size_t rl = strlen(rest);
    const char *slash = strrchr(rest, '/');
    if (slash == NULL)
        return SKEY_OTHER;
    const char *base = slash + 1;
    size_t bl = rl - (size_t)(base - rest);
    /* states/NAME/<current> */
    if (strcmp(base, current_base(layout)) == 0)
        return take_name(rest, (size_t)(slash - rest), out) ? (out->kind = SKEY_CURRENT)
                                                            : SKEY_OTHER;
    /* states/NAME/<snapdir>/ID.tfstate */
    size_t sl = strlen(SNAP_SUFFIX), dl = strlen(snapdir_base(layout));
    if (bl <= sl || strcmp(base + bl - sl, SNAP_SUFFIX) != 0 ||
        !store__snapshot_id_parse(base, bl - sl, NULL, NULL, NULL))
        return SKEY_OTHER;
    size_t before = (size_t)(slash - rest); /* "NAME/<snapdir>" */
    if (before < dl + 2 || rest[before - dl - 1] != '/' ||
        memcmp(rest + before - dl, snapdir_base(layout), dl) != 0 ||
        !take_name(rest, before - dl - 1, out))
        return SKEY_OTHER;
    memcpy(out->snapshot, base, bl - sl);
    out->snapshot[bl - sl] = '\0';
    out->kind = SKEY_SNAPSHOT;
    return SKEY_SNAPSHOT;
}
