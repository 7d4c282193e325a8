/* store/store_int.h: what the files of store/ share; no other part includes it (tests do).
 *
 * Keys of state objects (store/keys.c). Layout 2, the one stated writes:
 *
 *     states/NAME/@current.tfstate
 *     states/NAME/@snapshots/SEQ-SERIAL-SHA12.tfstate
 *
 * A state name never contains '@' (state_name_check), so the objects of one state can never
 * be the key, a directory on the way to a key, or a directory-driver sidecar of another
 * state: "a/@current.tfstate" is not a name, while "a/current.tfstate", "a/snapshots" and
 * "a/x.meta" are states of their own. Layout 1 (before the marker) was the same without the
 * '@', which let "victim/current.tfstate" map onto the directory of victim's current object;
 * it is read only by the migration (store/layout.c). */
#ifndef STATED_STORE_INT_H
#define STATED_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/util.h"
#include "store/store.h"

#define STORE_LAYOUT     2             /* the layout this code writes */
#define STORE_MARKER_KEY "layout.json" /* at the root of the storage */
#define SNAP_SUFFIX      ".tfstate"
#define SNAP_ID_MAX      64 /* "SEQ-SERIAL-SHA12" and its NUL fit */

enum skey_kind { SKEY_OTHER, SKEY_CURRENT, SKEY_SNAPSHOT };

/* A key taken apart: whose object it is. */
struct skey {
    enum skey_kind kind;
    char name[STATE_NAME_MAX];
    char snapshot[SNAP_ID_MAX]; /* SKEY_SNAPSHOT: the id, without ".tfstate" */
};

/* The keys of a state's objects in layout 1 or 2 (new strings, caller frees). snapdir ends
 * with '/'. name must have passed state_name_check. */
char *store__key_current(const char *name, int layout);
char *store__key_snapdir(const char *name, int layout);
char *store__key_snapshot(const char *name, const char *id, int layout);
/* What key is in layout 1 or 2: SKEY_CURRENT or SKEY_SNAPSHOT with out filled when it is
 * exactly a state object's key (valid name, valid snapshot id), else SKEY_OTHER. */
enum skey_kind store__key_parse(const char *key, int layout, struct skey *out);
/* Parses exactly "SEQ-SERIAL-SHA12" (n bytes): 16 digits, 1-20 digits without a leading
 * zero (at most 2^64-1), 12 lowercase hex digits. Any output may be NULL. */
bool store__snapshot_id_parse(const char *s, size_t n, int64_t *seq, uint64_t *serial,
                              char sha12[13]);
bool store__is_lower_hex(const char *s, size_t n);

/* Opens the storage's layout (store/layout.c), before anything else touches it: reads the
 * marker; migrates a layout-1 storage (or an unmarked one) and writes the marker. ERR_INVALID
 * when the marker names a newer layout or is not a marker; storage errors as they come. */
int store__layout_open(struct objstore *os, bool read_only, struct err *err);

/* The objstore that times every call of in (store/timed.c), and owns it; and the registration
 * of its metrics. */
struct objstore *store__timed_new(struct objstore *in);
void store__metrics_register(void);

#endif
