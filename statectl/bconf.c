/* statectl/bconf.c: client configuration for one state on this server.
 *
 * Two URL layouts, both served by stated:
 *   default  LOCK/UNLOCK on the state URL itself (the clients' default methods)
 *   gitlab   POST/DELETE on STATE_URL/lock (what GitLab-style configurations already use)
 * Credentials: the clients send Basic auth only when a username is set; stated takes the
 * password as the token and records the username as "who". Without --with-token the output
 * names the TF_HTTP_USERNAME/TF_HTTP_PASSWORD variables instead of embedding a secret, because
 * -backend-config values and backend blocks end up in .terraform/ and in saved plans. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hcl.h"
#include "common/util.h"
#include "statectl/statectl.h"

struct kv {
    const char *key;
    char *val;
};

/* POSIX shell single quoting. */
static void sh_quote(const char *s, struct buf *out)
{
    struct err e = {0};
    buf_append(out, "'", 1, &e);
    for (; *s; s++) {
        if (*s == '\'')
            buf_append_str(out, "'\\''", &e);
        else
            buf_append(out, s, 1, &e);
    }
    buf_append(out, "'", 1, &e);
}

static void hcl_attrs(const struct kv *kv, size_t n, int indent, struct buf *out)
{
    struct err e = {0};
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (strlen(kv[i].key) > w)
            w = strlen(kv[i].key);
    for (size_t i = 0; i < n; i++) {
        buf_printf(out, &e, "%*s%-*s = ", indent, "", (int)w, kv[i].key);
        hcl_quote(out, kv[i].val);
        buf_append_str(out, "\n", &e);
    }
}

void ctl_backend_config_render(const struct ctl_bc *bc, struct buf *out)
{
    struct err e = {0};
    const char *base_end = bc->url + strlen(bc->url);
    struct kv kv[8];
    size_t n = 0;
    char *address;
    bool gitlab = bc->layout == CTL_BC_GITLAB;
    bool creds = bc->token != NULL;

    while (base_end > bc->url && base_end[-1] == '/')
        base_end--;
    address = xasprintf("%.*s/v1/states/%s", (int)(base_end - bc->url), bc->url, bc->name);
    kv[n++] = (struct kv){"address", xstrdup(address)};
    kv[n++] =
        (struct kv){"lock_address", gitlab ? xasprintf("%s/lock", address) : xstrdup(address)};
    kv[n++] = (struct kv){"lock_method", xstrdup(gitlab ? "POST" : "LOCK")};
    kv[n++] =
        (struct kv){"unlock_address", gitlab ? xasprintf("%s/lock", address) : xstrdup(address)};
    kv[n++] = (struct kv){"unlock_method", xstrdup(gitlab ? "DELETE" : "UNLOCK")};
    kv[n++] = (struct kv){"update_method", xstrdup("POST")};
    if (creds) {
        kv[n++] = (struct kv){"username", xstrdup(bc->username ? bc->username : "terraform")};
        kv[n++] = (struct kv){"password", xstrdup(bc->token)};
    }
    buf_reset(out);

    switch (bc->format) {
    case CTL_BC_HCL:
        buf_append_str(out, "terraform {\n  backend \"http\" {\n", &e);
        hcl_attrs(kv, n, 4, out);
        if (!creds)
            buf_append_str(out,
                           "    # credentials: export TF_HTTP_USERNAME=<your name> and\n"
                           "    # TF_HTTP_PASSWORD=<a stated token>\n",
                           &e);
        buf_append_str(out, "  }\n}\n", &e);
        break;
    case CTL_BC_TERRAGRUNT:
        buf_append_str(out,
                       "remote_state {\n"
                       "  backend = \"http\"\n"
                       "  generate = {\n"
                       "    path      = \"backend.tf\"\n"
                       "    if_exists = \"overwrite_terragrunt\"\n"
                       "  }\n"
                       "  config = {\n",
                       &e);
        hcl_attrs(kv, n, 4, out);
        if (!creds)
            buf_append_str(out,
                           "    # credentials: export TF_HTTP_USERNAME=<your name> and\n"
                           "    # TF_HTTP_PASSWORD=<a stated token>\n",
                           &e);
        buf_append_str(out, "  }\n}\n", &e);
        break;
    case CTL_BC_FLAGS:
        /* One argument per line, shell-quoted, so `terraform init $(statectl ...)` and
         * copy-paste both work. Nothing else on stdout. */
        for (size_t i = 0; i < n; i++) {
            char *arg = xasprintf("-backend-config=%s=%s", kv[i].key, kv[i].val);
            sh_quote(arg, out);
            buf_append_str(out, "\n", &e);
            free(arg);
        }
        break;
    case CTL_BC_ENV:
        for (size_t i = 0; i < n; i++) {
            char var[64];
            size_t k;
            snprintf(var, sizeof(var), "TF_HTTP_%s", kv[i].key);
            for (k = 8; var[k]; k++)
                if (var[k] >= 'a' && var[k] <= 'z')
                    var[k] = (char)(var[k] - 'a' + 'A');
            buf_printf(out, &e, "export %s=", var);
            sh_quote(kv[i].val, out);
            buf_append_str(out, "\n", &e);
        }
        if (!creds)
            buf_append_str(out,
                           "# export TF_HTTP_USERNAME='<your name>'\n"
                           "# export TF_HTTP_PASSWORD='<a stated token>'\n",
                           &e);
        break;
    }
    for (size_t i = 0; i < n; i++)
        free(kv[i].val);
    free(address);
}
