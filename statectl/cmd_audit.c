/* statectl/cmd_audit.c: audit export and verify, on the server or (verify --file) offline. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
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

/* --anchors DIR [--public-key KEY]: the anchors the export must agree with. */
static int load_anchors(const char *dir, const char *keyfile, struct audit_anchors *out)
{
    struct err e = {0};
    void *pub = NULL;
    if (keyfile != NULL && (pub = audit_key_load(keyfile, false, &e)) == NULL) {
        fprintf(stderr, "statectl: audit verify: %s\n", e.msg);
        return CTL_EXIT_ERROR;
    }
    int rc = audit_anchors_load_dir(out, dir, pub, &e);
    audit_key_free(pub);
    if (rc != 0) {
        fprintf(stderr, "statectl: audit verify: %s\n", e.msg);
        return e.code == ERR_INVALID && strstr(e.msg, "signature") != NULL ? CTL_EXIT_BROKEN
                                                                           : CTL_EXIT_ERROR;
    }
    return 0;
}

/* audit verify --file: the chain code of audit/ over the export, no server. */
static int verify_file(const char *path, const char *format, const struct audit_anchors *anchors,
                       bool json)
{
    enum audit_format fmt = format != NULL && strcmp(format, "csv") == 0 ? AUDIT_CSV : AUDIT_JSONL;
    struct audit_verify_result vr = {.anchors = anchors};
    struct err e = {0};
    FILE *f;
    if (format != NULL && strcmp(format, "jsonl") != 0 && strcmp(format, "csv") != 0)
        return ctl_usage_error("--format must be jsonl or csv");
    if ((f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb")) == NULL) {
        fprintf(stderr, "statectl: %s: %s\n", path, strerror(errno));
        return CTL_EXIT_ERROR;
    }
    int rc = audit_verify_file(f, &fmt, format == NULL, &vr, &e);
    if (rc == 0)
        audit_anchors_final(&vr);
    if (f != stdin)
        fclose(f);
    if (rc != 0) {
        fprintf(stderr, "statectl: audit verify: %s: %s\n", path, e.msg);
        return CTL_EXIT_ERROR;
    }
    const char *fname = fmt == AUDIT_CSV ? "csv" : "jsonl";
    if (json) {
        json_t *o = json_pack("{s:b,s:s,s:I,s:I,s:I,s:I,s:s}", "ok", vr.first_broken == 0, "format",
                              fname, "events", (json_int_t)vr.events, "first_broken",
                              (json_int_t)vr.first_broken, "line", (json_int_t)vr.line, "last_seq",
                              (json_int_t)vr.last_seq, "reason", vr.reason);
        ctl_print_json(o);
        json_decref(o);
    } else if (vr.first_broken == 0) {
        if (anchors != NULL)
            printf("audit chain intact: events 1 to %llu verified in %s (%s), agreeing with %zu "
                   "anchors up to seq %llu%s\n",
                   (unsigned long long)vr.last_seq, path, fname, anchors->n,
                   (unsigned long long)anchors->v[anchors->n - 1].seq,
                   anchors->v[0].signature[0] ? " (signed)" : "");
        else
            printf("audit chain intact: events 1 to %llu verified in %s (%s); events after the "
                   "last one in the file are not proven\n",
                   (unsigned long long)vr.last_seq, path, fname);
    }
    if (vr.first_broken == 0)
        return CTL_EXIT_OK;
    if (vr.line > 0)
        fprintf(stderr, "statectl: audit verify: %s line %llu: chain broken at event %llu: %s\n",
                path, (unsigned long long)vr.line, (unsigned long long)vr.first_broken, vr.reason);
    else /* past the file's end: an anchor it does not reach */
        fprintf(stderr, "statectl: audit verify: %s: chain broken at event %llu: %s\n", path,
                (unsigned long long)vr.first_broken, vr.reason);
    return CTL_EXIT_BROKEN;
}

int ctl_cmd_audit_verify(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    json_t *res;
    char events[32], broken[32];
    if (cl->opt[OPT_FILE] != NULL) {
        struct audit_anchors anchors = {0};
        int ex = 0;
        if (cl->opt[OPT_PUBLIC_KEY] != NULL && cl->opt[OPT_ANCHORS] == NULL)
            return ctl_usage_error("--public-key goes with --anchors");
        if (cl->opt[OPT_ANCHORS] != NULL &&
            (ex = load_anchors(cl->opt[OPT_ANCHORS], cl->opt[OPT_PUBLIC_KEY], &anchors)) != 0)
            return ex;
        ex = verify_file(cl->opt[OPT_FILE], cl->opt[OPT_FORMAT],
                         cl->opt[OPT_ANCHORS] != NULL ? &anchors : NULL, cl->json);
        audit_anchors_cleanup(&anchors);
        return ex;
    }
    if (cl->opt[OPT_FORMAT] != NULL || cl->opt[OPT_ANCHORS] != NULL)
        return ctl_usage_error("--format and --anchors go with --file");
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
