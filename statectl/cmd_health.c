/* statectl/cmd_health.c: health, the probe a container runtime or a load balancer runs.
 *
 * It asks stated's own /healthz (answered on the event loop) or /healthz?deep=1 (a worker
 * pings storage, locks and audit) and trusts only stated's document: a 200 from whatever else
 * listens on that port is not a healthy stated. /healthz needs no credentials, so the token
 * from STATECTL_TOKEN or --token is not sent: a probe's command line and environment then
 * need no secret. The whole request is bounded, so a server that accepts the connection but
 * never answers fails the check instead of hanging it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "statectl/statectl_int.h"

#define HEALTH_TIMEOUT_MS 5000

int ctl_health_summary(const struct ctl_resp *r, char *line, size_t len)
{
    json_t *j = r->body.len > 0 ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    int rc = -1;

    if (!json_is_object(j) || strcmp(ctl_jstr(j, "status"), "ok") != 0) {
        snprintf(line, len, "HTTP %ld but not stated's health document", r->status);
    } else if (ctl_jstr(j, "storage")[0] != '\0') {
        snprintf(line, len, "ok: storage %s, locks %s, audit %s", ctl_jstr(j, "storage"),
                 ctl_jstr(j, "locks"), ctl_jstr(j, "audit"));
        rc = 0;
    } else {
        snprintf(line, len, "ok");
        rc = 0;
    }
    json_decref(j);
    return rc;
}

int ctl_cmd_health(const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    struct ctl_conn probe = *c;
    struct ctl_resp r;
    struct err e = {0};
    int64_t timeout_ms = HEALTH_TIMEOUT_MS;
    const char *path = cl->opt[OPT_DEEP] != NULL ? "/healthz?deep=1" : "/healthz";
    char line[256], *what;
    int ex = 0;

    if (cl->opt[OPT_TIMEOUT] != NULL &&
        (parse_duration_ms(cl->opt[OPT_TIMEOUT], &timeout_ms) != 0 || timeout_ms <= 0 ||
         timeout_ms > 3600 * 1000))
        return ctl_usage_error("--timeout must be a duration such as 500ms or 5s, at most 1h");
    probe.token = NULL;
    probe.timeout_ms = (long)timeout_ms;
    what = xasprintf("health %s%s", c->url, path);
    if (ctl_request(&probe, "GET", path, NULL, NULL, false, &r, &e) != 0) {
        fprintf(stderr, "statectl: %s: %s: %s\n", what, err_infra_code(ERR_HEALTH), e.msg);
        ex = e.code == ERR_UNAVAILABLE ? CTL_EXIT_UNREACHABLE : CTL_EXIT_ERROR;
    } else if (r.status != 200) {
        ex = ctl_report_http(&r, what);
    } else if (ctl_health_summary(&r, line, sizeof(line)) != 0) {
        fprintf(stderr, "statectl: %s: %s: %s\n", what, err_infra_code(ERR_HEALTH), line);
        ex = CTL_EXIT_ERROR;
    } else if (cl->json) {
        json_t *j = ctl_resp_json(&r);
        ctl_print_json(j);
        json_decref(j);
    } else {
        printf("%s: %s\n", c->url, line);
    }
    ctl_resp_cleanup(&r);
    free(what);
    return ex;
}
