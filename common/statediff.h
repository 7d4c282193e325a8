/* common/statediff.h: a state's values as operators see them: the value-level diff of two
 * versions, the outputs, and which attribute paths are sensitive. Pure functions over jansson
 * trees, used by the admin API (backend/route_admin.c) and statectl alike.
 *
 * Sensitive values never leave these functions: an output with "sensitive": true, and every
 * attribute path an instance lists in "sensitive_attributes" (Terraform writes each path as a
 * list of steps, [{"type":"get_attr","value":"input"},{"type":"index","value":{"value":0,
 * "type":"number"}}]), come out as a "sensitive": true flag with no value. The byte-preserving
 * redaction (statejson_redact in statejson.h) asks the same functions (statediff_sensitivity,
 * statediff_output_sensitive, statediff_is_wrapper), so both follow one rule.
 *
 * Bounds: attribute trees are compared to STATEDIFF_DEPTH_MAX levels (deeper subtrees are
 * compared whole, and masked whole when a sensitive path runs below); instances are matched by
 * address after sorting, O(n log n). Numbers are jansson's: an integer beyond 64 bits makes a
 * state unreadable here (ERR_INVALID), as it does for every jansson reader. */
#ifndef STATED_COMMON_STATEDIFF_H
#define STATED_COMMON_STATEDIFF_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/err.h"

#define STATEDIFF_DEPTH_MAX 64
/* What a sensitive value is replaced by wherever one would be shown. */
#define STATEDIFF_MASK      "(sensitive)"

/* Parses a state for the functions below: a new reference, or NULL with ERR_INVALID when data
 * is not JSON, not an object, has a duplicate key (two readers could see two different
 * "sensitive" flags), or is an OpenTofu-encrypted envelope (nothing can be seen inside it).
 * which names the version in the message ("from", "snapshot ABC"). */
json_t *statediff_load(const char *data, size_t len, const char *which, struct err *err);

/* The value-level diff from one state to another (both from statediff_load), a new object:
 *   {"resources":[{"address":"module.m.aws_x.y[\"k\"]","action":"added|removed|changed",
 *                  "attributes":[{"path":"tags.env","action":"added|removed|changed",
 *                                 "old":…,"new":…}]}],     (attributes: changed ones only)
 *    "outputs":[{"name":"n","action":…,"old":…,"new":…}]}
 * sorted by address and name; an attribute's entries in path order, map keys sorted, lists by
 * index. "old" is absent for an added value, "new" for a removed one; a sensitive entry has
 * "sensitive": true and neither. Never fails (memory aside, which aborts). */
json_t *statediff_compute(json_t *from, json_t *to);

/* The outputs of a state, a new object: {"NAME":{"value":…,"type":…,"sensitive":bool}} with
 * the value null for a sensitive output. */
json_t *statediff_outputs(json_t *state);

/* One step of the path to a value inside an instance's attributes, as written in the JSON. */
struct statediff_step {
    const char *key; /* member name (not NUL-terminated), when !is_index */
    size_t key_len;
    size_t index; /* list element, when is_index */
    bool is_index;
    /* The "value" member of an object holding exactly "value" and "type": how Terraform writes
     * a value of dynamic type (terraform_data's input). Sensitive paths name the value without
     * this step, so it may be skipped when matching. */
    bool unwrap;
};

enum statediff_sens {
    STATEDIFF_CLEAR,    /* nothing sensitive at or below the path */
    STATEDIFF_CONTAINS, /* a sensitive value lies below the path */
    STATEDIFF_WITHIN,   /* the path is a sensitive value or inside one */
};

/* How the value at path[0..n) relates to the sensitive paths of an instance (its
 * "sensitive_attributes" array; NULL, null or empty: CLEAR). A step of a shape this code does
 * not know matches anything, and anything but an array is WITHIN everywhere, so an unknown
 * format masks more, never less. */
enum statediff_sens statediff_sensitivity(json_t *sensitive_attributes,
                                          const struct statediff_step *path, size_t n);

/* Whether an output (its object in "outputs") is sensitive: "sensitive" present and neither
 * false nor null, so a flag of a shape this code does not know masks. */
bool statediff_output_sensitive(json_t *output);

/* Whether object o (a jansson object) is a dynamic-type wrapper: exactly the members "value"
 * and "type", the type a string or an array (a type expression). */
bool statediff_is_wrapper(json_t *o);

#endif
