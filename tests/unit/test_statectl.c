/* tests/unit/test_statectl.c: statectl's pure parts (parser, tables, diff rendering,
 * backend-config), the serial rewrite used by restore, and the health probe against a
 * one-connection HTTP server on 127.0.0.1. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "common/buf.h"
#include "common/statejson.h"
#include "common/util.h"
#include "statectl/statectl_int.h"
#include "tests/unit/t.h"

static int parse(struct ctl_cmdline *cl, char *why, const char *const *args)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = "statectl";
    for (; *args; args++)
        argv[argc++] = *args;
    return ctl_parse(argc, argv, cl, why, 256);
}

static void test_parse_commands(void)
{
    struct ctl_cmdline cl;
    char why[256];
    const char *a1[] = {"--output", "json", "states", "list", "--prefix=prod/", NULL};
    CHECK_INT(parse(&cl, why, a1), 0);
    CHECK_STR(ctl_cmd_name(cl.cmd), "states list");
    CHECK_STR(cl.opt[OPT_PREFIX], "prod/");
    CHECK(cl.json);
    CHECK_INT(cl.npos, 0);

    const char *a2[] = {"snapshots", "restore", "net", "0001-2-abc", "--force", NULL};
    CHECK_INT(parse(&cl, why, a2), 0);
    CHECK_STR(ctl_cmd_name(cl.cmd), "snapshots restore");
    CHECK_STR(cl.pos[0], "net");
    CHECK_STR(cl.pos[1], "0001-2-abc");
    CHECK_STR(cl.opt[OPT_FORCE], "1");

    const char *a3[] = {"audit", "export", "-o", "out.csv", "--format", "csv", NULL};
    CHECK_INT(parse(&cl, why, a3), 0);
    CHECK_STR(cl.opt[OPT_OUTFILE], "out.csv");
    CHECK_STR(cl.opt[OPT_FORMAT], "csv");

    const char *a4[] = {"backend-config", "a/b", "--format", "env", "--with-token", NULL};
    CHECK_INT(parse(&cl, why, a4), 0);
    CHECK_STR(ctl_cmd_name(cl.cmd), "backend-config");
    CHECK_STR(cl.pos[0], "a/b");

    const char *a5[] = {"tokens", "create", "ci", "--role", "read", "--states", "dev/**", NULL};
    CHECK_INT(parse(&cl, why, a5), 0);
    CHECK_STR(cl.opt[OPT_STATES], "dev/**");

    const char *a7[] = {"snapshots", "restore", "net", "latest~2", "--dry-run", NULL};
    CHECK_INT(parse(&cl, why, a7), 0);
    CHECK_STR(cl.opt[OPT_DRY_RUN], "1");
    CHECK(cl.opt[OPT_FORCE] == NULL);
    const char *a8[] = {"states", "outputs", "net", "--at", "serial:4", NULL};
    CHECK_INT(parse(&cl, why, a8), 0);
    CHECK_STR(ctl_cmd_name(cl.cmd), "states outputs");
    CHECK_STR(cl.opt[OPT_AT], "serial:4");
    const char *a9[] = {"snapshots", "show", "net", "abcdef", "--redact", NULL};
    CHECK_INT(parse(&cl, why, a9), 0);
    CHECK_STR(cl.opt[OPT_REDACT], "1");
    const char *bad[] = {"snapshots", "diff", "net", "a", "b", "--redact", NULL};
    CHECK_INT(parse(&cl, why, bad), CTL_EXIT_USAGE); /* diff has nothing to redact */

    /* "--" ends options: a state named like an option can still be given. */
    const char *a6[] = {"snapshots", "list", "--", "-odd", NULL};
    CHECK_INT(parse(&cl, why, a6), 0);
    CHECK_STR(cl.pos[0], "-odd");
}

static void test_parse_usage_errors(void)
{
    struct ctl_cmdline cl;
    char why[256];
    const char *bad1[] = {"states", "list", "--bogus", NULL};
    CHECK_INT(parse(&cl, why, bad1), CTL_EXIT_USAGE);
    CHECK(strstr(why, "--bogus") != NULL);
    const char *bad2[] = {"snapshots", "list", NULL};
    CHECK_INT(parse(&cl, why, bad2), CTL_EXIT_USAGE);
    CHECK(strstr(why, "missing") != NULL);
    const char *bad3[] = {"states", "list", "--force", NULL};
    CHECK_INT(parse(&cl, why, bad3), CTL_EXIT_USAGE);
    CHECK(strstr(why, "does not take --force") != NULL);
    const char *bad4[] = {"frobnicate", NULL};
    CHECK_INT(parse(&cl, why, bad4), CTL_EXIT_USAGE);
    const char *bad5[] = {"locks", "list", "--output", "yaml", NULL};
    CHECK_INT(parse(&cl, why, bad5), CTL_EXIT_USAGE);
    const char *bad6[] = {"tokens", "create", NULL};
    CHECK_INT(parse(&cl, why, bad6), CTL_EXIT_USAGE);
    const char *bad7[] = {"locks", "force-unlock", "x", "--id", NULL};
    CHECK_INT(parse(&cl, why, bad7), CTL_EXIT_USAGE);
    CHECK(strstr(why, "needs a value") != NULL);
    const char *none[] = {NULL};
    CHECK_INT(parse(&cl, why, none), CTL_EXIT_USAGE);
    /* --help is never an error, with or without a command. */
    const char *h1[] = {"--help", NULL};
    CHECK_INT(parse(&cl, why, h1), 0);
    CHECK(cl.cmd == NULL && cl.opt[OPT_HELP] != NULL);
    const char *h2[] = {"snapshots", "diff", "-h", NULL};
    CHECK_INT(parse(&cl, why, h2), 0);
    CHECK_STR(ctl_cmd_name(cl.cmd), "snapshots diff");
}

static void test_table(void)
{
    static const char *const head[] = {"NAME", "SERIAL", "LOCK"};
    struct ctl_table t;
    struct buf b;
    const char *r1[] = {"prod/network", "12", NULL};
    const char *r2[] = {"a", "3", "alice (id-1)"};
    ctl_table_init(&t, 3, head);
    ctl_table_add(&t, r1);
    ctl_table_add(&t, r2);
    buf_init(&b, 0);
    ctl_table_render(&t, &b);
    CHECK_STR(b.data, "NAME          SERIAL  LOCK\n"
                      "prod/network  12      -\n"
                      "a             3       alice (id-1)\n");
    buf_cleanup(&b);
    ctl_table_cleanup(&t);
}

/* The API's diff (common/statediff.h) as people read it: one line per instance and output,
 * attributes under a changed instance, sensitive values masked. */
static void test_diff_render(void)
{
    static const char api[] =
        "{\"resources\":[{\"address\":\"x.new[\\\"eu\\\"]\",\"action\":\"added\"},"
        "{\"address\":\"x.app\",\"action\":\"changed\",\"attributes\":["
        "{\"path\":\"tags.env\",\"action\":\"changed\",\"old\":\"dev\",\"new\":\"prod\"},"
        "{\"path\":\"ports[1]\",\"action\":\"added\",\"new\":3},"
        "{\"path\":\"pw\",\"action\":\"changed\",\"sensitive\":true},"
        "{\"path\":\"old\",\"action\":\"removed\",\"old\":{\"a\":[1]}}]},"
        "{\"address\":\"x.gone[0]\",\"action\":\"removed\"}],"
        "\"outputs\":[{\"name\":\"e\",\"action\":\"changed\",\"old\":\"a\\nb\",\"new\":1},"
        "{\"name\":\"s\",\"action\":\"added\",\"sensitive\":true}]}";
    json_t *d = json_loads(api, 0, NULL);
    struct buf b;
    CHECK(d != NULL);
    buf_init(&b, 0);
    ctl_diff_render(d, &b);
    CHECK_STR(b.data, "Resources: 1 added, 1 removed, 1 changed\n"
                      "+ x.new[\"eu\"]\n"
                      "~ x.app\n"
                      "    tags.env: \"dev\" \u2192 \"prod\"\n"
                      "    + ports[1]: 3\n"
                      "    pw: (sensitive) \u2192 (sensitive)\n"
                      "    - old: {\"a\":[1]}\n"
                      "- x.gone[0]\n"
                      "Outputs: 1 added, 0 removed, 1 changed\n"
                      "~ output.e: \"a\\nb\" \u2192 1\n"
                      "+ output.s: (sensitive)\n");
    json_decref(d);
    buf_reset(&b);
    d = json_loads("{\"resources\":[],\"outputs\":[]}", 0, NULL);
    ctl_diff_render(d, &b);
    CHECK_STR(b.data, "No differences in resources or outputs.\n");
    json_decref(d);
    buf_cleanup(&b);
}

static void test_backend_config(void)
{
    struct buf b;
    struct ctl_bc bc = {.url = "http://127.0.0.1:8080/", .name = "prod/net"};
    buf_init(&b, 0);
    ctl_backend_config_render(&bc, &b);
    CHECK_STR(b.data, "terraform {\n"
                      "  backend \"http\" {\n"
                      "    address        = \"http://127.0.0.1:8080/v1/states/prod/net\"\n"
                      "    lock_address   = \"http://127.0.0.1:8080/v1/states/prod/net\"\n"
                      "    lock_method    = \"LOCK\"\n"
                      "    unlock_address = \"http://127.0.0.1:8080/v1/states/prod/net\"\n"
                      "    unlock_method  = \"UNLOCK\"\n"
                      "    update_method  = \"POST\"\n"
                      "    # credentials: export TF_HTTP_USERNAME=<your name> and\n"
                      "    # TF_HTTP_PASSWORD=<a stated token>\n"
                      "  }\n"
                      "}\n");

    bc.format = CTL_BC_FLAGS;
    bc.layout = CTL_BC_GITLAB;
    bc.token = "s3cr'et";
    bc.username = "ci";
    ctl_backend_config_render(&bc, &b);
    CHECK_STR(b.data,
              "'-backend-config=address=http://127.0.0.1:8080/v1/states/prod/net'\n"
              "'-backend-config=lock_address=http://127.0.0.1:8080/v1/states/prod/net/lock'\n"
              "'-backend-config=lock_method=POST'\n"
              "'-backend-config=unlock_address=http://127.0.0.1:8080/v1/states/prod/net/lock'\n"
              "'-backend-config=unlock_method=DELETE'\n"
              "'-backend-config=update_method=POST'\n"
              "'-backend-config=username=ci'\n"
              "'-backend-config=password=s3cr'\\''et'\n");

    bc.format = CTL_BC_ENV;
    bc.layout = CTL_BC_DEFAULT;
    bc.token = NULL;
    ctl_backend_config_render(&bc, &b);
    CHECK(strstr(b.data, "export TF_HTTP_ADDRESS='http://127.0.0.1:8080/v1/states/prod/net'\n") !=
          NULL);
    CHECK(strstr(b.data, "export TF_HTTP_UNLOCK_METHOD='UNLOCK'\n") != NULL);
    CHECK(strstr(b.data, "# export TF_HTTP_PASSWORD=") != NULL);
    CHECK(strstr(b.data, "\nexport TF_HTTP_PASSWORD") == NULL);

    bc.format = CTL_BC_TERRAGRUNT;
    bc.url = "https://state.example/${x}";
    ctl_backend_config_render(&bc, &b);
    CHECK(strncmp(b.data, "remote_state {\n  backend = \"http\"\n", 34) == 0);
    CHECK(strstr(b.data, "if_exists = \"overwrite_terragrunt\"") != NULL);
    /* Template openers are escaped in HCL strings. */
    CHECK(strstr(b.data, "address        = \"https://state.example/$${x}/v1/states/prod/net\"") !=
          NULL);

    /* A username goes through the same escaper as everything else stackgen writes. */
    bc.format = CTL_BC_HCL;
    bc.url = "http://h";
    bc.token = "t\\\"k";
    bc.username = "a\rb\tc\x7f%{d}";
    ctl_backend_config_render(&bc, &b);
    CHECK(strstr(b.data, "    username       = \"a\\rb\\tc\\u007f%%{d}\"\n") != NULL);
    CHECK(strstr(b.data, "    password       = \"t\\\\\\\"k\"\n") != NULL);
    buf_cleanup(&b);
}

static void test_rewrite_serial(void)
{
    struct buf b;
    struct err e = {0};
    static const char in[] = "{\n  \"version\": 4,\n  \"serial\" :  7,\n  \"lineage\": \"L-1\",\n"
                             "  \"x\": {\"serial\": 1, \"s\": \"\\\"serial\\\": 2\"},\n"
                             "  \"resources\": [{\"serial\": 5}]\n}\n";
    static const char want[] = "{\n  \"version\": 4,\n  \"serial\" :  12,\n  \"lineage\": "
                               "\"L-1\",\n  \"x\": {\"serial\": 1, \"s\": \"\\\"serial\\\": 2\"},\n"
                               "  \"resources\": [{\"serial\": 5}]\n}\n";
    struct state_summary sum;
    buf_init(&b, 0);
    CHECK_INT(statejson_rewrite_serial(in, strlen(in), 12, &b, &e), 0);
    CHECK_STR(b.data, want);
    CHECK_INT(statejson_scan(b.data, b.len, &sum, &e), 0);
    CHECK_INT(sum.serial, 12);
    CHECK_STR(sum.lineage, "L-1");

    /* An OpenTofu envelope: the plaintext serial changes, the ciphertext does not. */
    static const char enc[] = "{\"serial\":3,\"lineage\":\"L\",\"meta\":{\"key_provider\":\"k\"},"
                              "\"encrypted_data\":\"c2VyaWFs\",\"encryption_version\":\"v0\"}";
    CHECK_INT(statejson_rewrite_serial(enc, strlen(enc), 4, &b, &e), 0);
    CHECK_STR(b.data, "{\"serial\":4,\"lineage\":\"L\",\"meta\":{\"key_provider\":\"k\"},"
                      "\"encrypted_data\":\"c2VyaWFs\",\"encryption_version\":\"v0\"}");

    /* Not a state: refused, nothing produced. */
    CHECK_INT(statejson_rewrite_serial("[1]", 3, 4, &b, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    static const char escaped[] = "{\"ser\\u0069al\":3,\"lineage\":\"L\"}";
    /* An escaped key is the same key to every JSON reader: rewritten, spelling kept. */
    CHECK_INT(statejson_rewrite_serial(escaped, strlen(escaped), 4, &b, &e), 0);
    CHECK_STR(b.data, "{\"ser\\u0069al\":4,\"lineage\":\"L\"}");
    buf_cleanup(&b);
}

static void test_helpers(void)
{
    char t[32];
    char *q = ctl_query_escape("prod/**&x=1 é");
    CHECK_STR(q, "prod/%2A%2A%26x%3D1%20%C3%A9");
    free(q);
    ctl_short_time("2026-11-22T02:20:13.123456Z", t);
    CHECK_STR(t, "2026-11-22T02:20:13Z");
    ctl_short_time("", t);
    CHECK_STR(t, "-");
    /* Serials are shown exactly, whichever way stated sent them. */
    json_t *o = json_loads("{\"a\":9223372036854775807,\"b\":\"18446744073709551615\","
                           "\"c\":-1,\"d\":\"x\"}",
                           0, NULL);
    char n[32];
    ctl_jnum(o, "a", n);
    CHECK_STR(n, "9223372036854775807");
    ctl_jnum(o, "b", n);
    CHECK_STR(n, "18446744073709551615");
    ctl_jnum(o, "c", n);
    CHECK_STR(n, "-");
    ctl_jnum(o, "d", n);
    CHECK_STR(n, "-");
    ctl_jnum(o, "none", n);
    CHECK_STR(n, "-");
    json_decref(o);
}

static void test_health_parse(void)
{
    struct ctl_cmdline cl;
    char why[256];
    const char *a1[] = {"health", NULL};
    CHECK_INT(parse(&cl, why, a1), 0);
    CHECK_STR(ctl_cmd_name(cl.cmd), "health");
    CHECK(cl.opt[OPT_DEEP] == NULL);
    const char *a2[] = {"--url", "http://127.0.0.1:9", "health", "--deep", "--timeout", "2s", NULL};
    CHECK_INT(parse(&cl, why, a2), 0);
    CHECK_STR(cl.opt[OPT_DEEP], "1");
    CHECK_STR(cl.opt[OPT_TIMEOUT], "2s");
    CHECK_STR(cl.opt[OPT_URL], "http://127.0.0.1:9");

    /* Refused command lines and the reason each one gives. */
    static const struct {
        const char *argv[4];
        const char *why;
    } bad[] = {
        {{"health", "extra"}, "too many arguments"},
        {{"states", "list", "--deep"}, "does not take --deep"},
        {{"health", "--deep=1"}, "takes no value"},
        {{"health", "--id", "x"}, "does not take --id"},
        {{"health", "--timeout"}, "needs a value"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(parse(&cl, why, bad[i].argv), CTL_EXIT_USAGE);
        CHECK(strstr(why, bad[i].why) != NULL);
    }
}

static int summary_of(long status, const char *body, char *line, size_t len)
{
    struct ctl_resp r = {.status = status};
    struct err e = {0};
    buf_init(&r.body, 0);
    buf_append_str(&r.body, body, &e);
    int rc = ctl_health_summary(&r, line, len);
    ctl_resp_cleanup(&r);
    return rc;
}

static void test_health_summary(void)
{
    char line[256];
    CHECK_INT(summary_of(200, "{\"status\":\"ok\"}", line, sizeof(line)), 0);
    CHECK_STR(line, "ok");
    CHECK_INT(summary_of(200,
                         "{\"status\":\"ok\",\"storage\":\"s3\",\"locks\":\"postgres\","
                         "\"audit\":\"postgres\"}",
                         line, sizeof(line)),
              0);
    CHECK_STR(line, "ok: storage s3, locks postgres, audit postgres");
    /* Only stated's own document counts: another server may answer 200 on the port. */
    CHECK_INT(summary_of(200, "{\"status\":\"degraded\"}", line, sizeof(line)), -1);
    CHECK_STR(line, "HTTP 200 but not stated's health document");
    CHECK_INT(summary_of(200, "<html>It works!</html>", line, sizeof(line)), -1);
    CHECK_INT(summary_of(200, "", line, sizeof(line)), -1);
    CHECK_INT(summary_of(200, "[\"ok\"]", line, sizeof(line)), -1);
    CHECK_INT(summary_of(200, "{\"status\":1}", line, sizeof(line)), -1);
}

/* A one-connection HTTP server on 127.0.0.1: keeps the request head it receives and sends
 * `answer`, or with answer NULL sends nothing until the client hangs up. Every wait of the
 * server is bounded (10 s), so a client that never comes cannot hang the test. */
struct one_shot {
    int fd, port;
    const char *answer;
    char head[4096];
    pthread_t th;
};

static void *one_shot_serve(void *arg)
{
    struct one_shot *s = arg;
    struct timeval bound = {.tv_sec = 10};
    size_t got = 0;
    char b[256];
    int c = accept(s->fd, NULL, NULL); /* at most 10 s: SO_RCVTIMEO on the listening socket */
    if (c < 0)
        return NULL;
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound));
    while (got + 1 < sizeof(s->head) && strstr(s->head, "\r\n\r\n") == NULL) {
        ssize_t n = read(c, s->head + got, sizeof(s->head) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        s->head[got] = '\0';
    }
    if (s->answer != NULL)
        (void)send(c, s->answer, strlen(s->answer), MSG_NOSIGNAL);
    else
        while (read(c, b, sizeof(b)) > 0)
            ;
    close(c);
    return NULL;
}

/* Binds 127.0.0.1 on a free port; listens (and serves once) only when `serve` is set, so an
 * unserved port refuses connections. */
static int one_shot_start(struct one_shot *s, const char *answer, bool serve)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    memset(s->head, 0, sizeof(s->head));
    s->answer = answer;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    s->port = ntohs(a.sin_port);
    if (!serve)
        return 0;
    struct timeval bound = {.tv_sec = 10};
    setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound));
    if (listen(s->fd, 1) != 0 || pthread_create(&s->th, NULL, one_shot_serve, s) != 0)
        return -1;
    return 1;
}

static void one_shot_stop(struct one_shot *s, int started)
{
    if (started == 1)
        pthread_join(s->th, NULL);
    if (s->fd >= 0)
        close(s->fd);
}

/* Runs `statectl health ARGS` against port, with a token configured; stderr goes to *err_text
 * (caller frees), stdout to out_text. Returns the exit code. */
static int run_health(int port, const char *const *args, char **err_text, char out_text[256])
{
    struct ctl_cmdline cl;
    char why[256], url[64], path_err[512], path_out[512];
    struct ctl_conn conn = {.url = url, .token = "secret-token-never-sent"};
    int ex, saved_out, saved_err, fd_out, fd_err;
    FILE *f;
    size_t n;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    snprintf(path_err, sizeof(path_err), "%s/err", t_tempdir());
    snprintf(path_out, sizeof(path_out), "%s/out", t_tempdir());
    if (parse(&cl, why, args) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    saved_out = dup(1);
    saved_err = dup(2);
    fd_out = open(path_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    fd_err = open(path_err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd_out, 1);
    dup2(fd_err, 2);
    ex = ctl_run(cl.cmd, &conn, &cl);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(fd_out);
    close(fd_err);
    *err_text = xcalloc(1, 1024);
    f = fopen(path_err, "r");
    if (f != NULL) {
        n = fread(*err_text, 1, 1023, f);
        (*err_text)[n] = '\0';
        fclose(f);
    }
    out_text[0] = '\0';
    f = fopen(path_out, "r");
    if (f != NULL) {
        n = fread(out_text, 1, 255, f);
        out_text[n] = '\0';
        fclose(f);
    }
    return ex;
}

static char *answer(const char *status, const char *body)
{
    return xasprintf("HTTP/1.1 %s\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     status, strlen(body), body);
}

static void test_health_probe(void)
{
    struct one_shot s;
    char out[256], *err, *ans;
    int started;
    const char *deep[] = {"health", "--deep", NULL};
    const char *plain[] = {"health", NULL};
    const char *quick[] = {"health", "--timeout", "300ms", NULL};
    const char *zero[] = {"health", "--timeout", "0s", NULL};

    /* Healthy, deep: the path asked for, no credential sent although a token is configured. */
    ans = answer("200 OK", "{\"status\":\"ok\",\"storage\":\"dir\",\"locks\":\"embedded\","
                           "\"audit\":\"jsonl\"}");
    started = one_shot_start(&s, ans, true);
    CHECK_INT(started, 1);
    CHECK_INT(run_health(s.port, deep, &err, out), CTL_EXIT_OK);
    one_shot_stop(&s, started);
    CHECK(strncmp(s.head, "GET /healthz?deep=1 HTTP/1.1\r\n", 30) == 0);
    CHECK(strstr(s.head, "Authorization") == NULL);
    CHECK(strstr(s.head, "secret-token") == NULL);
    CHECK(strstr(out, ": ok: storage dir, locks embedded, audit jsonl\n") != NULL);
    CHECK_STR(err, "");
    free(err);
    free(ans);

    /* A deep check that finds a part down: stated's 503 INFRA_006, exit 1. */
    ans = answer("503 Service Unavailable",
                 "{\"code\":\"INFRA_006\",\"message\":\"health check failed\"}");
    started = one_shot_start(&s, ans, true);
    CHECK_INT(run_health(s.port, deep, &err, out), CTL_EXIT_ERROR);
    one_shot_stop(&s, started);
    CHECK(strstr(err, "INFRA_006: HTTP 503: health check failed") != NULL);
    CHECK_STR(out, "");
    free(err);
    free(ans);

    /* Something else answering 200 on the port is not a healthy stated. */
    ans = answer("200 OK", "<html>It works!</html>");
    started = one_shot_start(&s, ans, true);
    CHECK_INT(run_health(s.port, plain, &err, out), CTL_EXIT_ERROR);
    one_shot_stop(&s, started);
    CHECK(strncmp(s.head, "GET /healthz HTTP/1.1\r\n", 23) == 0);
    CHECK(strstr(err, "INFRA_006: HTTP 200 but not stated's health document") != NULL);
    free(err);
    free(ans);

    /* Accepted but never answered: bounded by --timeout, reported as unreachable. */
    started = one_shot_start(&s, NULL, true);
    int64_t t0 = mono_ms();
    CHECK_INT(run_health(s.port, quick, &err, out), CTL_EXIT_UNREACHABLE);
    CHECK(mono_ms() - t0 < 3000);
    one_shot_stop(&s, started);
    CHECK(strstr(err, "INFRA_006: cannot reach") != NULL);
    free(err);

    /* Nothing listening. */
    started = one_shot_start(&s, NULL, false);
    CHECK_INT(started, 0);
    CHECK_INT(run_health(s.port, plain, &err, out), CTL_EXIT_UNREACHABLE);
    one_shot_stop(&s, started);
    CHECK(strstr(err, "INFRA_006: cannot reach http://127.0.0.1:") != NULL);
    free(err);

    /* A timeout that bounds nothing is a usage error, before any request. */
    CHECK_INT(run_health(1, zero, &err, out), CTL_EXIT_USAGE);
    CHECK(strstr(err, "INFRA_001: --timeout") != NULL);
    free(err);
}

/* Key patterns: Terragrunt's layout, another pattern, terraform's workspace prefix, keys that
 * do not fit (ignored) and keys that fit but give no valid state name (listed, skipped). */
static void test_key_pattern(void)
{
    char name[STATE_NAME_MAX];
    struct err e = {0};
    const char *def = CTL_KEY_PATTERN_DEFAULT;
    CHECK_INT(ctl_key_pattern_check(def, &e), 0);
    CHECK_INT(ctl_key_pattern_check("states/{name}.tfstate", &e), 0);
    CHECK_INT(ctl_key_pattern_check("terraform.tfstate", &e), -1);
    CHECK_INT(ctl_key_pattern_check("{name}/{name}.tfstate", &e), -1);

    CHECK_INT(ctl_key_to_name(def, "net/prod/terraform.tfstate", name, sizeof(name), &e), 0);
    CHECK_STR(name, "net/prod");
    CHECK_INT(ctl_key_to_name(def, "app/terraform.tfstate", name, sizeof(name), &e), 0);
    CHECK_STR(name, "app");
    CHECK_INT(
        ctl_key_to_name("states/{name}.tfstate", "states/a/b.tfstate", name, sizeof(name), &e), 0);
    CHECK_STR(name, "a/b");
    /* A workspace other than default: env:/WORKSPACE/KEY. */
    CHECK_INT(
        ctl_key_to_name(def, "env:/staging/net/prod/terraform.tfstate", name, sizeof(name), &e), 0);
    CHECK_STR(name, "net/prod.staging");
    /* Not the pattern's: ignored. */
    CHECK_INT(ctl_key_to_name(def, "terraform.tfstate", name, sizeof(name), &e), 1);
    CHECK_INT(ctl_key_to_name(def, "net/prod/terraform.tfstate.backup", name, sizeof(name), &e), 1);
    CHECK_INT(ctl_key_to_name(def, "net/prod/other.json", name, sizeof(name), &e), 1);
    CHECK_INT(ctl_key_to_name(def, "env:/terraform.tfstate", name, sizeof(name), &e), 1);
    /* The pattern's, but no valid state name: skipped with the reason. */
    err_clear(&e);
    CHECK_INT(ctl_key_to_name(def, "net prod/terraform.tfstate", name, sizeof(name), &e), -1);
    CHECK_STR(name, "net prod");
    CHECK(strstr(e.msg, "may only contain") != NULL);
    CHECK_INT(ctl_key_to_name(def, "a//b/terraform.tfstate", name, sizeof(name), &e), -1);
    CHECK_INT(ctl_key_to_name(def, "../x/terraform.tfstate", name, sizeof(name), &e), -1);
    CHECK_INT(ctl_key_to_name(def, "net/lock/terraform.tfstate", name, sizeof(name), &e), -1);
    CHECK_INT(ctl_key_to_name(def, "env:/bad ws/net/terraform.tfstate", name, sizeof(name), &e),
              -1);

    /* Commands: repeated key files are all kept. */
    struct ctl_cmdline cl;
    char why[256];
    const char *a[] = {"offline",
                       "export",
                       "--data-dir",
                       "d",
                       "--to",
                       "o",
                       "--encryption-key-file",
                       "k1",
                       "--encryption-key-file=k2",
                       NULL};
    CHECK_INT(parse(&cl, why, a), 0);
    CHECK_STR(ctl_cmd_name(cl.cmd), "offline export");
    CHECK_INT(cl.nkeyfiles, 2);
    CHECK_STR(cl.keyfiles[0], "k1");
    CHECK_STR(cl.keyfiles[1], "k2");
    const char *b[] = {"import", "--from", "s3://b/p", "--versions", "--dry-run", NULL};
    CHECK_INT(parse(&cl, why, b), 0);
    CHECK_STR(ctl_cmd_name(cl.cmd), "import");
    CHECK_STR(cl.opt[OPT_VERSIONS], "1");
    const char *c[] = {"import", "--to", "x", NULL};
    CHECK_INT(parse(&cl, why, c), CTL_EXIT_USAGE);
}

int main(void)
{
    RUN(test_parse_commands);
    RUN(test_parse_usage_errors);
    RUN(test_table);
    RUN(test_diff_render);
    RUN(test_backend_config);
    RUN(test_rewrite_serial);
    RUN(test_helpers);
    RUN(test_health_parse);
    RUN(test_health_summary);
    RUN(test_health_probe);
    RUN(test_key_pattern);
    return t_report();
}
