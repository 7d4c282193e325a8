/* module/gen/gen_int.h: helpers shared by the generator's files (not a public API). */
#ifndef STATED_MODULE_GEN_INT_H
#define STATED_MODULE_GEN_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct stack {
    json_t *root; /* validated: every field has the right type and range */
};

/* Scaleway's serverless container sizes (MB) and the vCPU (mvCPU) paired with each. */
#define GEN_MEM_SIZES 7
extern const int gen_mem_mb[GEN_MEM_SIZES];
extern const int gen_mem_cpu[GEN_MEM_SIZES];

/* The keys of object o in strcmp order; *n receives their count. The caller frees the array
 * (the strings belong to o). NULL o gives an empty array. */
const char **gen_sorted_keys(json_t *o, size_t *n);
/* The keys of an object, or the strings of an array (other elements skipped), in document
 * order, NULL-terminated; anything else gives an empty list. The caller frees the array (the
 * strings belong to v). */
const char **gen_strings(json_t *v);

/* Typed lookups on a validated document, with the default when the key is absent. */
const char *gen_str(const json_t *o, const char *key, const char *def);
long long gen_int(const json_t *o, const char *key, long long def);
bool gen_bool(const json_t *o, const char *key, bool def);

/* True when an environment variable name or literal value looks like a credential; *why
 * receives a short reason (never the value). */
bool gen_env_name_is_secret(const char *name, const char **why);
bool gen_env_value_is_secret(const char *value, const char **why);

/* What a render deploys beyond the stack's arrays: a network whenever one is described or
 * containers or databases need it, monitoring when it is described and enabled. */
bool gen_has_network(json_t *root);
bool gen_has_monitoring(json_t *root);
/* The monitoring section includes stated's dashboard, alerts and agent ("stated": true). */
bool gen_monitors_stated(json_t *root);

/* "s" unless n is 1: the plural of the nouns in messages (report.c). */
const char *gen_plural(size_t n);

/* Module sources: where a module call (tofu) or a Terragrunt unit finds <component>, given
 * the --module-source prefix (NULL: the copy in DIR/modules). Returns a new string. */
char *gen_module_source(const char *prefix, const char *component, bool terragrunt);

/* ---- the rule checker (rules.c) ----
 *
 * A stack is checked against tables of rules, one table per kind of object: each row names a
 * key and what its value must be (a string matching a pattern, a name, one of a set, an
 * integer in a range or a set, a bool, a nested object or array of objects with a table of
 * their own), or, with no key, a check in code across several fields (`check`). Rows run in
 * table order, after the object's unknown keys are reported, so the order of the messages is
 * the order of the table. */

struct gen_check {
    struct buf *errors; /* one "INFRA_001 <path>: <message>\n" line per problem */
    json_t *root;
    bool production; /* stack.environment is "production" */
    json_t *secrets; /* names declared in secrets[], as an object used as a set */
};

enum gen_rule_kind {
    GEN_END,     /* ends a table */
    GEN_STRING,  /* a string; max: length limit, pattern: a regex it matches, value: code */
    GEN_NAME,    /* a name, ^[a-z][a-z0-9-]*$, min-max characters */
    GEN_ENUM,    /* one of allowed */
    GEN_INT,     /* an integer in min-max, or one of ints[nints] */
    GEN_BOOL,    /* true or false */
    GEN_OBJECT,  /* an object, checked against fields when given */
    GEN_OBJECTS, /* an array of objects, each checked against fields */
    GEN_CHECK,   /* no key: check(c, the object, this row) */
};

enum gen_rule_flag {
    GEN_REQUIRED = 1, /* a missing key is an error */
    GEN_LIST = 2,     /* GEN_STRING, GEN_NAME, GEN_ENUM: an array of such strings */
    GEN_QUOTED = 4,   /* GEN_STRING: the message follows the quoted value */
};

struct gen_target;

struct gen_rule {
    const char *key;
    enum gen_rule_kind kind;
    unsigned flags;
    long long min, max;
    const char *const *allowed; /* GEN_ENUM, NULL-terminated */
    const int *ints;            /* GEN_INT: the allowed values instead of a range */
    size_t nints;
    const char *pattern; /* GEN_STRING */
    const char *unit;    /* GEN_INT: what the number counts, for messages ("seconds"), or NULL */
    /* GEN_STRING: what a value failing pattern or max is; GEN_ENUM, GEN_INT with ints: what a
     * value outside the set is ("is not an allowed value" when NULL), followed by the set or,
     * for a string close to one of it, that one; GEN_CHECK: the check's own parameter. */
    const char *msg;
    void (*value)(struct gen_check *c, const char *s, const char *path); /* GEN_STRING */
    const struct gen_rule *fields; /* GEN_OBJECT, GEN_OBJECTS */
    void (*check)(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r);
};

/* The object being checked and where it is. */
struct gen_target {
    json_t *obj;
    const char *path; /* "$.databases[0]" */
    const struct gen_rule *rules;
    json_t *array; /* the array holding obj (its index in index), or NULL */
    size_t index;
    const struct gen_target *parent; /* the object holding this one, or NULL for the root */
};

/* Reports unknown keys of t->obj, then applies every row of t->rules. */
void gen_check_rules(struct gen_check *c, const struct gen_target *t);
/* Checks one value, found at path, against a row with a key (t: the object holding it). */
void gen_check_value(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r,
                     json_t *v, const char *path);
/* True when t->obj has key as an integer that passes the key's rule; *out receives the
 * integer whenever there is one. */
bool gen_int_field(const struct gen_target *t, const char *key, long long *out);

/* Appends one error line for path. */
void gen_verr(struct gen_check *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A user string as a short JSON literal, safe to print (caller frees). */
char *gen_show(const char *s);
/* "$.a" + "b" -> "$.a.b", or "$.a[\"b-c\"]" when the key is not a plain identifier; caller
 * frees. */
char *gen_path_key(const char *parent, const char *key);
/* True when s matches the extended regular expression re. */
bool gen_match(const char *re, const char *s);
/* True when s is one of the NULL-terminated list. */
bool gen_in_list(const char *const *list, const char *s);
/* Appends "a, b, c": a NULL-terminated list as messages show it. */
void gen_list_strings(struct buf *b, const char *const *list);

/* ---- suggestions (suggest.c) ---- */

/* The end of a message about s: ` (did you mean "x"?)` for the nearest candidate, else, when
 * listed_as is not NULL and there are candidates, ` (<listed_as> a, b, c)`, else "". Returns a
 * new string (caller frees). */
char *gen_suggest(const char *s, const char *const *candidates, const char *listed_as);

#endif
