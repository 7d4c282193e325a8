/* module/gen/gen_int.h: helpers shared by the generator's files (not a public API). */
#ifndef STATED_MODULE_GEN_INT_H
#define STATED_MODULE_GEN_INT_H

#include <jansson.h>
#include <stdbool.h>

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

/* Typed lookups on a validated document, with the default when the key is absent. */
const char *gen_str(const json_t *o, const char *key, const char *def);
long long gen_int(const json_t *o, const char *key, long long def);
bool gen_bool(const json_t *o, const char *key, bool def);

/* True when an environment variable name or literal value looks like a credential; *why
 * receives a short reason (never the value). */
bool gen_env_name_is_secret(const char *name, const char **why);
bool gen_env_value_is_secret(const char *value, const char **why);

#endif
