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

/* The backend's settings in the order the clients document them; the values are new strings. */
static size_t backend_settings(const struct ctl_bc *bc, struct kv *kv)
{
    size_t n = 0, base = strlen(bc->url);
    bool gitlab = bc->layout == CTL_BC_GITLAB;

    while (base > 0 && bc->url[base - 1] == '/')
        base--;
    char *address = xasprintf("%.*s/v1/states/%s", (int)base, bc->url, bc->name);
    char *lock = gitlab ? xasprintf("%s/lock", address) : xstrdup(address);
    kv[n++] = (struct kv){"address", address};
    kv[n++] = (struct kv){"lock_address", lock};
    kv[n++] = (struct kv){"lock_method", xstrdup(gitlab ? "POST" : "LOCK")};
    kv[n++] = (struct kv){"unlock_address", xstrdup(lock)};
    kv[n++] = (struct kv){"unlock_method", xstrdup(gitlab ? "DELETE" : "UNLOCK")};
    kv[n++] = (struct kv){"update_method", xstrdup("POST")};
    if (bc->token != NULL) {
        kv[n++] = (struct kv){"username", xstrdup(bc->username ? bc->username : "terraform")};
        kv[n++] = (struct kv){"password", xstrdup(bc->token)};
    }
    return n;
}

static const char creds_comment[] = "    # credentials: export TF_HTTP_USERNAME=<your name> and\n"
                                    "    # TF_HTTP_PASSWORD=<a stated token>\n";

static const char terragrunt_head[] = "remote_state {\n"
                                      "  backend = \"http\"\n"
                                      "  generate = {\n"
                                      "    path      = \"backend.tf\"\n"
                                      "    if_exists = \"overwrite_terragrunt\"\n"
                                      "  }\n"
                                      "  config = {\n";

/* A backend "http" block or a Terragrunt remote_state: head, the settings, two closing braces. */
static void render_hcl(const char *head, const struct kv *kv, size_t n, bool creds, struct buf *out)
{
    struct err e = {0};
    buf_append_str(out, head, &e);
    hcl_attrs(kv, n, 4, out);
    if (!creds)
        buf_append_str(out, creds_comment, &e);
    buf_append_str(out, "  }\n}\n", &e);
}

/* One argument per line, shell-quoted, so `terraform init $(statectl ...)` and copy-paste both
 * work. Nothing else on stdout. */
static void render_flags(const struct kv *kv, size_t n, struct buf *out)
{
    struct err e = {0};
    for (size_t i = 0; i < n; i++) {
        char *arg = xasprintf("-backend-config=%s=%s", kv[i].key, kv[i].val);
        sh_quote(arg, out);
        buf_append_str(out, "\n", &e);
        free(arg);
    }
}

/* TF_HTTP_<KEY> exports, the variables both clients read. */
static void render_env(const struct kv *kv, size_t n, bool creds, struct buf *out)
{
    struct err e = {0};
    for (size_t i = 0; i < n; i++) {
        char var[64];
        snprintf(var, sizeof(var), "TF_HTTP_%s", kv[i].key);
        for (size_t k = 8; var[k]; k++)
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
}

void ctl_backend_config_render(const struct ctl_bc *bc, struct buf *out)
{
    struct kv kv[8];
    size_t n = backend_settings(bc, kv);
    bool creds = bc->token != NULL;

    buf_reset(out);
    switch (bc->format) {
    case CTL_BC_HCL:
        render_hcl("terraform {\n  backend \"http\" {\n", kv, n, creds, out);
        break;
    case CTL_BC_TERRAGRUNT:
        render_hcl(terragrunt_head, kv, n, creds, out);
        break;
    case CTL_BC_FLAGS:
        render_flags(kv, n, out);
        break;
    case CTL_BC_ENV:
        render_env(kv, n, creds, out);
        break;
    }
    for (size_t i = 0; i < n; i++)
        free(kv[i].val);
}
