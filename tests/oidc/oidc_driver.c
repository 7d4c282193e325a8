/* tests/oidc/oidc_driver.c: one long-lived struct oidc driven line by line, for
 * tests/oidc/oidc-check.sh (built against build/san/obj/libstated.a).
 *
 *   oidc_driver CONFIG     loads CONFIG (oidc_load), starts the key fetchers (oidc_start), then
 *                          reads one JWT per line on stdin and answers one line per JWT:
 *     ok name=N role=R pattern=P issuer=I sub=S jti=J ms=T
 *     err ERR_NAME HTTP ms=T message
 *   T is how long oidc_authenticate took. End of input: oidc_free, exit 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "common/log.h"
#include "common/util.h"

static void answer(struct oidc *o, const char *jwt)
{
    struct auth_identity id = {0};
    struct err e = {0};
    int64_t t0 = mono_ms();
    int rc = oidc_authenticate(o, jwt, &id, &e);
    long long ms = (long long)(mono_ms() - t0);
    if (rc == 0)
        printf("ok name=%s role=%s pattern=%s issuer=%s sub=%s jti=%s ms=%lld\n", id.name,
               auth_role_name(id.role), id.pattern, id.issuer, id.subject, id.jti, ms);
    else
        printf("err %s %d ms=%lld %s\n", err_name(e.code), err_http_status(e.code), ms, e.msg);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CONFIG < jwt lines\n", argv[0]);
        return 2;
    }
    log_setup(LOG_INFO, LOG_TEXT);
    struct err e = {0};
    struct oidc *o = oidc_load(argv[1], &e);
    if (o == NULL) {
        printf("load-failed %s\n", e.msg);
        return 1;
    }
    oidc_start(o);
    printf("ready\n");
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        answer(o, line);
    }
    free(line);
    oidc_free(o);
    return 0;
}
