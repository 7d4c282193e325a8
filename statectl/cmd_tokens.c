/* statectl/cmd_tokens.c: tokens create, list, revoke, and backend-config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "statectl/statectl_int.h"

/* Token names are safe in URLs and logs: the server's alphabet, checked before asking it. */
static int check_token_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@") != n)
        return ctl_usage_error("token name must be 1-63 of [A-Za-z0-9._-@]");
    return 0;
}

static bool known_role(const char *role)
{
    static const char *const roles[] = {"read", "plan", "write", "admin", "outputs", "metrics"};
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(role, roles[i]) == 0)
            return true;
    return false;
}

int ctl_cmd_tokens_create(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0], *role = cl->opt[OPT_ROLE], *states = cl->opt[OPT_STATES];
    json_t *req, *res;
    char *body;
    int ex = check_token_name(name);
    if (ex != 0)
        return ex;
    if (role == NULL || !known_role(role))
        return ctl_usage_error("--role read|plan|write|admin|outputs|metrics is required");
    if (states == NULL || states[0] == '\0')
        return ctl_usage_error("--states PATTERN is required ('**' for all)");
    req = json_pack("{s:s,s:s,s:s}", "name", name, "role", role, "states", states);
    if (cl->opt[OPT_EXPIRES] != NULL) /* the server parses it: one clock decides */
        json_object_set_new(req, "expires", json_string(cl->opt[OPT_EXPIRES]));
    body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    ex = ctl_call_json(c, "POST", "/v1/tokens", body, "tokens create", &res);
    free(body);
    if (ex != 0)
        return ex;
    if (cl->json) {
        ctl_print_json(res);
    } else {
        char expires[32];
        ctl_short_time(ctl_jstr(res, "expires"), expires);
        fprintf(stderr,
                "created token %s (role %s, states %s, expires %s); its secret is shown only "
                "now:\n",
                ctl_jstr(res, "name"), ctl_jstr(res, "role"), ctl_jstr(res, "states"),
                strcmp(expires, "-") == 0 ? "never" : expires);
        printf("%s\n", ctl_jstr(res, "token"));
    }
    json_decref(res);
    return 0;
}

int ctl_cmd_tokens_list(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    static const char *const head[] = {"NAME",    "ROLE",    "STATES",   "SOURCE",
                                       "CREATED", "EXPIRES", "LAST USE", "FROM"};
    struct ctl_table t;
    json_t *arr, *tok;
    size_t i;
    int ex = ctl_call_json(c, "GET", "/v1/tokens", NULL, "tokens list", &arr);
    if (ex != 0)
        return ex;
    if (cl->json) {
        ctl_print_json(arr);
        json_decref(arr);
        return 0;
    }
    ctl_table_init(&t, 8, head);
    CTL_ARRAY_EACH(arr, i, tok)
    {
        char created[32], expires[32], used[32];
        const char *from = ctl_jstr(tok, "last_used_from");
        ctl_short_time(ctl_jstr(tok, "created"), created);
        ctl_short_time(ctl_jstr(tok, "expires"), expires);
        ctl_short_time(ctl_jstr(tok, "last_used"), used);
        const char *row[] = {ctl_jstr(tok, "name"),
                             ctl_jstr(tok, "role"),
                             ctl_jstr(tok, "states"),
                             ctl_jstr(tok, "source"),
                             created,
                             strcmp(expires, "-") == 0 ? "never" : expires,
                             used,
                             from[0] != '\0' ? from : "-"};
        ctl_table_add(&t, row);
    }
    ctl_print_table(&t);
    json_decref(arr);
    return 0;
}

int ctl_cmd_tokens_revoke(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *name = cl->pos[0];
    char *path, *what;
    json_t *res;
    int ex = check_token_name(name);
    if (ex != 0)
        return ex;
    path = xasprintf("/v1/tokens/%s", name);
    what = xasprintf("tokens revoke %s", name);
    ex = ctl_call_json(c, "DELETE", path, NULL, what, &res);
    free(path);
    free(what);
    if (ex != 0)
        return ex;
    if (cl->json)
        ctl_print_json(res);
    else
        printf("revoked token %s\n", name);
    json_decref(res);
    return 0;
}

int ctl_cmd_backend_config(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *fmt = cl->opt[OPT_FORMAT] ? cl->opt[OPT_FORMAT] : "hcl";
    const char *layout = cl->opt[OPT_LAYOUT] ? cl->opt[OPT_LAYOUT] : "default";
    struct ctl_bc bc = {.url = c->url, .name = cl->pos[0], .username = cl->opt[OPT_USERNAME]};
    struct buf out;
    int ex = ctl_check_name(bc.name);
    if (ex != 0)
        return ex;
    if (strcmp(fmt, "hcl") == 0)
        bc.format = CTL_BC_HCL;
    else if (strcmp(fmt, "flags") == 0)
        bc.format = CTL_BC_FLAGS;
    else if (strcmp(fmt, "terragrunt") == 0)
        bc.format = CTL_BC_TERRAGRUNT;
    else if (strcmp(fmt, "env") == 0)
        bc.format = CTL_BC_ENV;
    else
        return ctl_usage_error("--format must be hcl, flags, terragrunt or env");
    if (strcmp(layout, "default") == 0)
        bc.layout = CTL_BC_DEFAULT;
    else if (strcmp(layout, "gitlab") == 0)
        bc.layout = CTL_BC_GITLAB;
    else
        return ctl_usage_error("--layout must be default or gitlab");
    if (cl->opt[OPT_WITH_TOKEN]) {
        if (c->token == NULL || c->token[0] == '\0')
            return ctl_usage_error("--with-token needs a token (STATECTL_TOKEN or --token)");
        bc.token = c->token;
    }
    if (cl->json)
        return ctl_usage_error(
            "backend-config prints configuration text; use --format instead of --output json");
    buf_init(&out, 0);
    ctl_backend_config_render(&bc, &out);
    fwrite(out.data, 1, out.len, stdout);
    if (bc.format == CTL_BC_FLAGS && bc.token == NULL)
        fprintf(stderr, "# credentials: export TF_HTTP_USERNAME=<your name> and "
                        "TF_HTTP_PASSWORD=<a stated token>\n");
    buf_cleanup(&out);
    return 0;
}
