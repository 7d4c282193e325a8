/* statectl/cmd_audit.c: audit export and verify. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "statectl/statectl_int.h"

/* Appends "&key=value" (escaped) when value is set. */
static void add_param(struct buf *q, const char *key, const char *value)
{
    struct err e = {0};
    char *v;
    if (value == NULL)
        return;
    v = ctl_query_escape(value);
    buf_printf(q, &e, "%c%s=%s", q->len == 0 ? '?' : '&', key, v);
    free(v);
}

static int check_time(const char *opt, const char *v)
{
    int64_t us;
    if (v == NULL || time_parse_rfc3339(v, &us) == 0)
        return 0;
    return ctl_usage_error(
        "--%s '%s' is not RFC 3339 (2026-11-22T02:20:13Z) or a date (2026-11-22)", opt, v);
}

int ctl_cmd_audit_export(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    const char *fmt = cl->opt[OPT_FORMAT] ? cl->opt[OPT_FORMAT] : "jsonl";
    const char *file = cl->opt[OPT_OUTFILE];
    struct buf q;
    struct ctl_resp r;
    struct err e = {0};
    FILE *f = stdout;
    char *path;
    int ex;

    if (strcmp(fmt, "jsonl") != 0 && strcmp(fmt, "csv") != 0)
        return ctl_usage_error("--format must be jsonl or csv");
    if ((ex = check_time("since", cl->opt[OPT_SINCE])) != 0 ||
        (ex = check_time("until", cl->opt[OPT_UNTIL])) != 0)
        return ex;
    buf_init(&q, 0);
    add_param(&q, "format", fmt);
    add_param(&q, "since", cl->opt[OPT_SINCE]);
    add_param(&q, "until", cl->opt[OPT_UNTIL]);
    add_param(&q, "state", cl->opt[OPT_STATE]);
    path = xasprintf("/v1/audit/export%s", q.data);
    buf_cleanup(&q);
    if (file != NULL && strcmp(file, "-") != 0 && (f = fopen(file, "wb")) == NULL) {
        fprintf(stderr, "statectl: %s: %s\n", file, strerror(errno));
        free(path);
        return CTL_EXIT_ERROR;
    }
    if (ctl_request(c, "GET", path, NULL, f, isatty(STDERR_FILENO) == 1, &r, &e) != 0) {
        fprintf(stderr, "statectl: audit export: %s: %s\n", err_infra_code(e.code), e.msg);
        ex = e.code == ERR_UNAVAILABLE ? CTL_EXIT_UNREACHABLE : CTL_EXIT_ERROR;
    } else if (r.status != 200) {
        ex = ctl_report_http(&r, "audit export");
    }
    ctl_resp_cleanup(&r);
    free(path);
    if (f != stdout) {
        if (fclose(f) != 0 && ex == 0) {
            fprintf(stderr, "statectl: %s: %s\n", file, strerror(errno));
            ex = CTL_EXIT_ERROR;
        }
        if (ex != 0)
            unlink(file);
    } else if (fflush(stdout) != 0 && ex == 0) {
        ex = CTL_EXIT_ERROR;
    }
    return ex;
}

int ctl_cmd_audit_verify(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    json_t *res;
    char events[32], broken[32];
    int ex = ctl_call_json(c, "GET", "/v1/audit/verify", NULL, "audit verify", &res);
    if (ex != 0)
        return ex;
    ctl_jnum(res, "events", events);
    ctl_jnum(res, "first_broken", broken);
    ex = json_is_true(json_object_get(res, "ok")) ? 0 : CTL_EXIT_BROKEN;
    if (cl->json)
        ctl_print_json(res);
    else if (ex == 0)
        printf("audit chain intact: %s events verified\n", events);
    if (ex != 0)
        fprintf(stderr, "statectl: audit verify: chain broken at event %s (of %s checked): %s\n",
                broken, events, ctl_jstr(res, "reason"));
    json_decref(res);
    return ex;
}
