/* tests/unit/test_statectl.c: statectl's pure parts (parser, tables, diff, backend-config) and
 * the serial rewrite used by restore. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/statejson.h"
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

static const char state_a[] =
    "{\"version\":4,\"terraform_version\":\"1.11.4\",\"serial\":3,\"lineage\":\"L\","
    "\"outputs\":{\"keep\":{\"value\":\"x\",\"type\":\"string\"},"
    "\"gone\":{\"value\":1,\"type\":\"number\"},\"chg\":{\"value\":\"a\",\"type\":\"string\"}},"
    "\"resources\":["
    "{\"mode\":\"managed\",\"type\":\"terraform_data\",\"name\":\"same\",\"provider\":\"p\","
    "\"instances\":[{\"schema_version\":0,\"attributes\":{\"id\":\"1\",\"input\":\"v\"}}]},"
    "{\"mode\":\"managed\",\"type\":\"terraform_data\",\"name\":\"many\",\"provider\":\"p\","
    "\"instances\":[{\"index_key\":0,\"attributes\":{\"id\":\"a\"}},"
    "{\"index_key\":1,\"attributes\":{\"id\":\"b\"}}]},"
    "{\"module\":\"module.net\",\"mode\":\"data\",\"type\":\"x_zone\",\"name\":\"z\","
    "\"provider\":\"p\",\"instances\":[{\"attributes\":{\"id\":\"z\"}}]}"
    "]}";

static const char state_b[] =
    "{\"version\":4,\"terraform_version\":\"1.11.4\",\"serial\":9,\"lineage\":\"L\","
    "\"outputs\":{\"keep\":{\"value\":\"x\",\"type\":\"string\"},"
    "\"chg\":{\"value\":\"b\",\"type\":\"string\"},\"new\":{\"value\":[1],\"type\":[\"list\"]}},"
    "\"resources\":["
    "{\"mode\":\"managed\",\"type\":\"terraform_data\",\"name\":\"same\",\"provider\":\"p\","
    "\"instances\":[{\"schema_version\":0,\"attributes\":{\"input\":\"v\",\"id\":\"1\"}}]},"
    "{\"mode\":\"managed\",\"type\":\"terraform_data\",\"name\":\"many\",\"provider\":\"p\","
    "\"instances\":[{\"index_key\":0,\"attributes\":{\"id\":\"CHANGED\"}}]},"
    "{\"mode\":\"managed\",\"type\":\"terraform_data\",\"name\":\"keyed\",\"provider\":\"p\","
    "\"instances\":[{\"index_key\":\"eu\",\"attributes\":{\"id\":\"k\"}}]}"
    "]}";

static void test_diff(void)
{
    struct ctl_diff d;
    struct err e = {0};
    struct buf b;
    CHECK_INT(ctl_diff_compute(state_a, strlen(state_a), state_b, strlen(state_b), &d, &e), 0);
    CHECK_INT(json_array_size(d.res_added), 1);
    CHECK_STR(json_string_value(json_array_get(d.res_added, 0)), "terraform_data.keyed[\"eu\"]");
    CHECK_INT(json_array_size(d.res_removed), 2);
    CHECK_STR(json_string_value(json_array_get(d.res_removed, 0)), "module.net.data.x_zone.z");
    CHECK_STR(json_string_value(json_array_get(d.res_removed, 1)), "terraform_data.many[1]");
    CHECK_INT(json_array_size(d.res_changed), 1);
    CHECK_STR(json_string_value(json_array_get(d.res_changed, 0)), "terraform_data.many[0]");
    CHECK_STR(json_string_value(json_array_get(d.out_added, 0)), "new");
    CHECK_STR(json_string_value(json_array_get(d.out_removed, 0)), "gone");
    CHECK_STR(json_string_value(json_array_get(d.out_changed, 0)), "chg");
    CHECK_INT(json_array_size(d.out_changed), 1);
    buf_init(&b, 0);
    ctl_diff_render(&d, &b);
    CHECK(strstr(b.data, "Resources: 1 added, 2 removed, 1 changed\n") != NULL);
    CHECK(strstr(b.data, "+ terraform_data.keyed[\"eu\"]\n") != NULL);
    CHECK(strstr(b.data, "~ output.chg\n") != NULL);
    buf_cleanup(&b);
    ctl_diff_cleanup(&d);

    /* Same content: nothing to report. */
    CHECK_INT(ctl_diff_compute(state_a, strlen(state_a), state_a, strlen(state_a), &d, &e), 0);
    buf_init(&b, 0);
    ctl_diff_render(&d, &b);
    CHECK_STR(b.data, "No differences in resources or outputs.\n");
    buf_cleanup(&b);
    ctl_diff_cleanup(&d);
}

static void test_diff_encrypted(void)
{
    static const char enc[] = "{\"serial\":2,\"lineage\":\"L\",\"meta\":{},\"encrypted_data\":"
                              "\"AAAA\",\"encryption_version\":\"v0\"}";
    struct ctl_diff d;
    struct err e = {0};
    CHECK_INT(ctl_diff_compute(state_a, strlen(state_a), enc, strlen(enc), &d, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK(strstr(e.msg, "encrypted") != NULL);
    err_clear(&e);
    CHECK_INT(ctl_diff_compute("nope", 4, state_a, strlen(state_a), &d, &e), -1);
    CHECK(strstr(e.msg, "snapshot A") != NULL);
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

int main(void)
{
    RUN(test_parse_commands);
    RUN(test_parse_usage_errors);
    RUN(test_table);
    RUN(test_diff);
    RUN(test_diff_encrypted);
    RUN(test_backend_config);
    RUN(test_rewrite_serial);
    RUN(test_helpers);
    return t_report();
}
