/* statectl/main.c: the operator CLI's entry point (see docs/statectl.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/version.h"
#include "statectl/statectl.h"

int main(int argc, char **argv)
{
    struct ctl_cmdline cl;
    struct ctl_conn conn;
    char why[256];
    char *url;
    int ex = ctl_parse(argc, (const char *const *)argv, &cl, why, sizeof(why));

    if (ex != 0) {
        ctl_usage_error("%s", why);
        if (cl.cmd != NULL)
            fprintf(stderr, "Try 'statectl %s --help'.\n", ctl_cmd_name(cl.cmd));
        else
            fprintf(stderr, "Try 'statectl --help'.\n");
        return ex;
    }
    if (cl.opt[OPT_HELP]) {
        ctl_usage(stdout, cl.cmd);
        return 0;
    }
    if (cl.cmd == NULL) { /* --version */
        printf("statectl %s\n", STATED_VERSION);
        return 0;
    }

    memset(&conn, 0, sizeof(conn));
    conn.url = cl.opt[OPT_URL] ? cl.opt[OPT_URL] : getenv("STATECTL_URL");
    if (conn.url == NULL || conn.url[0] == '\0')
        conn.url = "http://127.0.0.1:8080";
    url = strdup(conn.url);
    if (url == NULL)
        return CTL_EXIT_ERROR;
    for (size_t n = strlen(url); n > 0 && url[n - 1] == '/'; n--)
        url[n - 1] = '\0';
    conn.url = url;
    conn.token = cl.opt[OPT_TOKEN] ? cl.opt[OPT_TOKEN] : getenv("STATECTL_TOKEN");
    conn.cacert = cl.opt[OPT_CACERT];
    conn.cert = cl.opt[OPT_CERT];
    conn.key = cl.opt[OPT_KEY];
    if ((conn.cert == NULL) != (conn.key == NULL)) {
        free(url);
        return ctl_usage_error("--cert and --key go together");
    }
    if (strncmp(conn.url, "http://", 7) != 0 && strncmp(conn.url, "https://", 8) != 0) {
        free(url);
        return ctl_usage_error("the server URL must start with http:// or https://");
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    ex = ctl_run(cl.cmd, &conn, &cl);
    curl_global_cleanup();
    free(url);
    return ex;
}
