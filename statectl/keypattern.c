/* statectl/keypattern.c: which state an imported key becomes (statectl import).
 *
 * A pattern is the key with {name} where the state name stands: Terragrunt's layout writes one
 * key per unit path, "net/prod/terraform.tfstate", which '{name}/terraform.tfstate' maps to
 * the state net/prod. Pure functions: tests/unit/test_statectl.c checks them. */
#include <string.h>

#include "common/util.h"
#include "statectl/statectl.h"

#define NAME_SLOT        "{name}"
/* Where terraform's backend "s3" keeps the workspaces other than default (its
 * workspace_key_prefix default): env:/WORKSPACE/KEY. */
#define WORKSPACE_PREFIX "env:/"

int ctl_key_pattern_check(const char *pattern, struct err *err)
{
    const char *slot = strstr(pattern, NAME_SLOT);
    if (slot == NULL || strstr(slot + 1, NAME_SLOT) != NULL)
        return err_set(err, ERR_INVALID, "--key-pattern '%s' must hold {name} exactly once",
                       pattern);
    return 0;
}

/* The part of key that {name} stands for in pattern, into name: 0, or 1 when key does not fit. */
static int match(const char *pattern, const char *key, char *name, size_t cap)
{
    const char *slot = strstr(pattern, NAME_SLOT);
    size_t pre = (size_t)(slot - pattern), klen = strlen(key);
    const char *suffix = slot + strlen(NAME_SLOT);
    size_t suf = strlen(suffix);
    if (klen <= pre + suf || strncmp(key, pattern, pre) != 0 ||
        strcmp(key + klen - suf, suffix) != 0)
        return 1;
    size_t n = klen - pre - suf;
    if (n >= cap)
        n = cap - 1;
    memcpy(name, key + pre, n);
    name[n] = '\0';
    return 0;
}

int ctl_key_to_name(const char *pattern, const char *key, char *name, size_t cap, struct err *err)
{
    char ws[STATE_NAME_MAX] = "";
    name[0] = '\0';
    if (strncmp(key, WORKSPACE_PREFIX, strlen(WORKSPACE_PREFIX)) == 0) {
        const char *w = key + strlen(WORKSPACE_PREFIX), *slash = strchr(w, '/');
        if (slash == NULL || slash == w || (size_t)(slash - w) >= sizeof(ws))
            return 1;
        memcpy(ws, w, (size_t)(slash - w));
        ws[slash - w] = '\0';
        key = slash + 1;
    }
    if (match(pattern, key, name, cap) != 0)
        return 1;
    if (ws[0] != '\0') {
        size_t n = strlen(name);
        if (n + 1 + strlen(ws) >= cap)
            return err_set(err, ERR_INVALID, "state name too long");
        name[n] = '.';
        memcpy(name + n + 1, ws, strlen(ws) + 1);
    }
    return state_name_check(name, strlen(name), err) == 0 ? 0 : -1;
}
