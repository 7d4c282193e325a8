/* tests/unit/test_stackgen.c: the HCL emitter (escaping, alignment, layout) and the stack
 * validator's rules, one check per rule, plus render determinism. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "module/gen/gen_int.h"
#include "module/gen/stackgen.h"
#include "tests/unit/t.h"

static char *quote(const char *s)
{
    struct buf b;
    size_t len;
    buf_init(&b, 0);
    hcl_quote(&b, s);
    return buf_take(&b, &len);
}

static char *render(struct hcl_body *body)
{
    struct buf b;
    size_t len;
    buf_init(&b, 0);
    hcl_render(body, &b);
    hcl_body_free(body);
    return buf_take(&b, &len);
}

#define CHECK_QUOTE(in, want)                                                                      \
    do {                                                                                           \
        char *q_ = quote(in);                                                                      \
        CHECK_STR(q_, want);                                                                       \
        free(q_);                                                                                  \
    } while (0)

static void test_quote_escapes(void)
{
    CHECK_QUOTE("plain", "\"plain\"");
    CHECK_QUOTE("a\\b", "\"a\\\\b\"");
    CHECK_QUOTE("say \"hi\"", "\"say \\\"hi\\\"\"");
    CHECK_QUOTE("l1\nl2\r\t", "\"l1\\nl2\\r\\t\"");
    CHECK_QUOTE("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    CHECK_QUOTE("${var.x}", "\"$${var.x}\"");
    CHECK_QUOTE("%{ if x }", "\"%%{ if x }\"");
    CHECK_QUOTE("100% $5 $$ %%", "\"100% $5 $$ %%\"");
    CHECK_QUOTE("$${x}", "\"$$${x}\""); /* HCL reads $$${ as $ then ${ -> "$${x}" */
    CHECK_QUOTE("caf\xc3\xa9", "\"caf\xc3\xa9\"");
}

static void test_escape_without_quotes(void)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "\"", NULL);
    hcl_escape(&b, "a\\b\"c\r\t\x7f${x}%{y}");
    buf_append_str(&b, "/${path_relative_to_include()}\"", NULL);
    CHECK_STR(b.data, "\"a\\\\b\\\"c\\r\\t\\u007f$${x}%%{y}/${path_relative_to_include()}\"");
    buf_reset(&b);
    hcl_escape(&b, "");
    CHECK_INT(b.len, 0);
    buf_cleanup(&b);
}

static void test_alignment_runs(void)
{
    struct hcl_body *f = hcl_body_new(), *b, *o;
    b = hcl_block(f, "locals", NULL, NULL);
    hcl_attr_int(b, "a", 1);
    hcl_attr_str(b, "bbbb", "x");
    hcl_attr(b, "c", hcl_object(&o));
    hcl_attr_int(o, "dd", 3);
    hcl_attr_int(o, "e", 4);
    hcl_attr_bool(b, "ffffff", true);
    hcl_attr_expr(b, "g", "var.g");
    hcl_comment(b, "breaks the run");
    hcl_attr_int(b, "hhh", 5);
    char *out = render(f);
    CHECK_STR(out, "locals {\n"
                   "  a    = 1\n"
                   "  bbbb = \"x\"\n"
                   "  c = {\n"
                   "    dd = 3\n"
                   "    e  = 4\n"
                   "  }\n"
                   "  ffffff = true\n"
                   "  g      = var.g\n"
                   "  # breaks the run\n"
                   "  hhh = 5\n"
                   "}\n");
    free(out);
}

static void test_blocks_blank_lines(void)
{
    struct hcl_body *f = hcl_body_new(), *b, *o;
    hcl_comment(f, "head");
    b = hcl_block(f, "module", "x", NULL);
    hcl_attr_str(b, "source", "./m");
    hcl_blank(b);
    hcl_blank(b); /* collapses */
    hcl_attr(b, "empty", hcl_object(&o));
    hcl_block(b, "inner", "a", "b");
    hcl_attr_int(b, "after", 1);
    hcl_block(f, "terraform", NULL, NULL);
    char *out = render(f);
    CHECK_STR(out, "# head\n"
                   "\n"
                   "module \"x\" {\n"
                   "  source = \"./m\"\n"
                   "\n"
                   "  empty = {}\n"
                   "\n"
                   "  inner \"a\" \"b\" {\n"
                   "  }\n"
                   "\n"
                   "  after = 1\n"
                   "}\n"
                   "\n"
                   "terraform {\n"
                   "}\n");
    free(out);
}

static void test_tuples_and_keys(void)
{
    struct hcl_body *f = hcl_body_new(), *o;
    struct hcl_value *t = hcl_tuple();
    hcl_tuple_add(t, hcl_str("a"));
    hcl_tuple_add(t, hcl_int(2));
    hcl_attr(f, "flat", t);
    t = hcl_tuple();
    hcl_tuple_add(t, hcl_object(&o));
    hcl_attr_int(o, "days", 7);
    hcl_attr(f, "rules", t);
    hcl_attr(f, "none", hcl_tuple());
    hcl_attr_int(f, "has space", 1);
    hcl_attr_int(f, "null", 2);
    hcl_attr_int(f, "db-password", 3);
    char *out = render(f);
    CHECK_STR(out, "flat = [\"a\", 2]\n"
                   "rules = [\n"
                   "  {\n"
                   "    days = 7\n"
                   "  },\n"
                   "]\n"
                   "none        = []\n"
                   "\"has space\" = 1\n"
                   "\"null\"      = 2\n"
                   "db-password = 3\n");
    free(out);
    CHECK(hcl_is_ident("db-password"));
    CHECK(!hcl_is_ident("1abc"));
    CHECK(!hcl_is_ident("a.b"));
}

/* ---- validator ---- */

#define BASE                                                                                       \
    "{\"stack\":{\"name\":\"shop\",\"environment\":\"dev\","                                       \
    "\"region\":\"fr-par\",\"project_id\":"                                                        \
    "\"6f1f4b2e-8d3a-4c55-9b1e-2a7c0d9e4f10\"}%s}"

/* Loads BASE with extra top-level members; *errors receives the error text (caller frees). */
static struct stack *load_base(const char *extra, char **errors)
{
    char *doc = xasprintf(BASE, extra);
    struct buf b;
    size_t len;
    buf_init(&b, 0);
    struct stack *s = stack_load(doc, strlen(doc), &b);
    CHECK((s != NULL) == (b.len == 0));
    free(doc);
    *errors = buf_take(&b, &len);
    return s;
}

/* Validates BASE with extra top-level members; returns the error text (caller frees). */
static char *validate(const char *extra)
{
    char *errors;
    stack_free(load_base(extra, &errors));
    return errors;
}

/* A string a call returns for the caller to free: checked, then freed. */
#define CHECK_TAKEN_STR(call, want)                                                                \
    do {                                                                                           \
        char *t_ = (call);                                                                         \
        CHECK_STR(t_, want);                                                                       \
        free(t_);                                                                                  \
    } while (0)

#define CHECK_VALID(extra)                                                                         \
    do {                                                                                           \
        char *e_ = validate(extra);                                                                \
        CHECK_STR(e_, "");                                                                         \
        free(e_);                                                                                  \
    } while (0)
#define CHECK_ERROR(extra, want)                                                                   \
    do {                                                                                           \
        char *e_ = validate(extra);                                                                \
        CHECK_STR(e_, want "\n");                                                                  \
        free(e_);                                                                                  \
    } while (0)

#define CT(fields) ",\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1\"," fields "}]"

static void test_validator_valid(void)
{
    CHECK_VALID("");
    CHECK_VALID(CT("\"cpu\":70,\"memory\":128"));
    CHECK_VALID(CT("\"cpu\":2240,\"memory\":4096,\"min_scale\":10,\"max_scale\":100,"
                   "\"timeout\":900,\"env\":{\"UUID\":\"6f1f4b2e-8d3a-4c55-9b1e-2a7c0d9e4f10\","
                   "\"URL\":\"https://example.com/a?b=c@d\"}"));
}

static void test_validator_stack_rules(void)
{
    char *e = NULL;
    struct buf errors;
    size_t len;
    const char *doc =
        "{\"stack\":{\"name\":\"Shop\",\"environment\":\"prod\",\"region\":\"eu-west-1\","
        "\"project_id\":\"not-a-uuid\"}}";
    buf_init(&errors, 0);
    CHECK(stack_load(doc, strlen(doc), &errors) == NULL);
    e = buf_take(&errors, &len);
    CHECK_STR(e, "INFRA_001 $.stack.name: \"Shop\" must match ^[a-z][a-z0-9-]*$\n"
                 "INFRA_001 $.stack.environment: \"prod\" is not an environment (one of dev, "
                 "staging, production)\n"
                 "INFRA_001 $.stack.region: \"eu-west-1\" is not a Scaleway region (one of "
                 "fr-par, nl-ams, pl-waw, it-mil)\n"
                 "INFRA_001 $.stack.project_id: \"not-a-uuid\" is not a UUID (lowercase, "
                 "8-4-4-4-12 hex digits)\n");
    free(e);
    CHECK_ERROR(",\"extra\":1",
                "INFRA_001 $: unknown key \"extra\" (known keys: stack, network, secrets, "
                "containers, databases, buckets, monitoring, registry)");
}

static void test_validator_container_rules(void)
{
    CHECK_ERROR(CT("\"cpu\":140,\"memory\":300"),
                "INFRA_001 $.containers[0].memory: 300 is not a Scaleway memory size (one of 128, "
                "256, 512, 1024, 2048, 3072, 4096 MB)");
    CHECK_ERROR(CT("\"cpu\":1000,\"memory\":1024"),
                "INFRA_001 $.containers[0].cpu: 1000 mvCPU does not pair with 1024 MB of memory "
                "(use 560; valid MB/mvCPU pairs: 128/70, 256/140, 512/280, 1024/560, 2048/1120, "
                "3072/1680, 4096/2240)");
    CHECK_ERROR(CT("\"cpu\":0,\"memory\":128"),
                "INFRA_001 $.containers[0].cpu: must be 1..1000000 mvCPU (got 0)");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"min_scale\":11"),
                "INFRA_001 $.containers[0].min_scale: must be 0..10 instances (got 11)");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"max_scale\":0"),
                "INFRA_001 $.containers[0].max_scale: must be 1..100 instances (got 0)");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"min_scale\":4,\"max_scale\":3"),
                "INFRA_001 $.containers[0].max_scale: must be >= min_scale 4 (got 3)");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"timeout\":29"),
                "INFRA_001 $.containers[0].timeout: must be 30..900 seconds (got 29)");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"timeout\":901"),
                "INFRA_001 $.containers[0].timeout: must be 30..900 seconds (got 901)");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"port\":0"),
                "INFRA_001 $.containers[0].port: must be 1..65535 (got 0)");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":\"128\""),
                "INFRA_001 $.containers[0].memory: must be an integer");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"env\":{\"DB_PASSWORD\":\"hunter2\"}"),
                "INFRA_001 $.containers[0].env.DB_PASSWORD: looks like a secret (name contains "
                "PASSWORD); use secret_env and Secret Manager, not a literal value");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"env\":{\"api_key\":\"x\"}"),
                "INFRA_001 $.containers[0].env.api_key: looks like a secret (name contains KEY); "
                "use secret_env and Secret Manager, not a literal value");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"env\":{\"DATABASE_URL\":"
                   "\"postgres://app:pw@db:5432/app\"}"),
                "INFRA_001 $.containers[0].env.DATABASE_URL: value looks like a credential (a URL "
                "with user:password); use secret_env and Secret Manager, not a literal value");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"secret_env\":{\"X\":\"missing\"}"),
                "INFRA_001 $.containers[0].secret_env.X: secret \"missing\" is not declared in "
                "$.secrets");
    CHECK_VALID(",\"secrets\":[{\"name\":\"db\"}]" CT("\"cpu\":70,\"memory\":128,"
                                                      "\"secret_env\":{\"DB_PASSWORD\":\"db\"}"));
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"cpus\":1"),
                "INFRA_001 $.containers[0]: unknown key \"cpus\" (did you mean \"cpu\"?)");
}

static void test_validator_production_rules(void)
{
    const char *doc =
        "{\"stack\":{\"name\":\"shop\",\"environment\":\"production\",\"region\":\"fr-par\","
        "\"project_id\":\"6f1f4b2e-8d3a-4c55-9b1e-2a7c0d9e4f10\"},"
        "\"secrets\":[{\"name\":\"pw\"}],"
        "\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1\",\"cpu\":70,\"memory\":128}],"
        "\"databases\":[{\"name\":\"db\",\"admin_password_secret\":\"pw\","
        "\"backup\":{\"retention_days\":7}}]}";
    struct buf errors;
    size_t len;
    buf_init(&errors, 0);
    CHECK(stack_load(doc, strlen(doc), &errors) == NULL);
    char *e = buf_take(&errors, &len);
    CHECK_STR(e, "INFRA_001 $.containers[0].min_scale: production needs min_scale >= 2 (got 0)\n"
                 "INFRA_001 $.databases[0].ha: production needs a high-availability database "
                 "(ha: true)\n"
                 "INFRA_001 $.databases[0].backup.retention_days: production needs backups kept "
                 ">= 30 days (got 7)\n"
                 "INFRA_001 $.monitoring: production needs monitoring enabled\n");
    free(e);
}

static void test_validator_json_errors(void)
{
    struct buf errors;
    size_t len;
    buf_init(&errors, 0);
    CHECK(stack_load("{\"stack\":", 9, &errors) == NULL);
    char *e = buf_take(&errors, &len);
    CHECK(strncmp(e, "INFRA_001 $: invalid JSON at line 1", 35) == 0);
    free(e);
    CHECK_ERROR(",\"containers\":{}", "INFRA_001 $.containers: must be an array");
    CHECK_ERROR(",\"buckets\":[{\"name\":\"ab\"}]",
                "INFRA_001 $.buckets[0].name: must be 3..63 characters long (got 2)");
    CHECK_ERROR(
        ",\"buckets\":[{\"name\":\"abc\",\"versioning\":false,\"object_lock\":{\"days\":1}}]",
        "INFRA_001 $.buckets[0].versioning: object_lock needs versioning");
}

static const int sizes[] = {1, 2, 4};
static const char *const colours[] = {"red", "blue", NULL};

static void count_keys(struct gen_check *c, const struct gen_target *t, const struct gen_rule *r)
{
    gen_verr(c, t->path, "%zu keys, %s", json_object_size(t->obj), r->msg);
}

static const struct gen_rule inner_rules[] = {
    {.key = "n", .kind = GEN_INT, .flags = GEN_REQUIRED, .min = 1, .max = 3},
    {.kind = GEN_END},
};

static const struct gen_rule test_rules[] = {
    {.key = "size", .kind = GEN_INT, .ints = sizes, .nints = 3, .msg = "is not a size"},
    {.key = "colour", .kind = GEN_ENUM, .flags = GEN_LIST, .allowed = colours},
    {.kind = GEN_CHECK, .check = count_keys, .msg = "checked in table order"},
    {.key = "code",
     .kind = GEN_STRING,
     .flags = GEN_QUOTED,
     .max = 3,
     .pattern = "^[a-z]+$",
     .msg = "is not a code"},
    {.key = "items", .kind = GEN_OBJECTS, .fields = inner_rules},
    {.kind = GEN_END},
};

/* The checker on its own table: sets, lists, checks in order, nested arrays, unknown keys. */
static void test_rule_checker(void)
{
    const char *doc = "{\"size\":3,\"colour\":[\"red\",\"green\",7],\"code\":\"abcd\","
                      "\"items\":[{\"n\":4},{},5],\"zz\":1}";
    json_t *obj = json_loads(doc, 0, NULL);
    struct buf errors;
    size_t len;
    buf_init(&errors, 0);
    struct gen_check c = {.errors = &errors};
    struct gen_target t = {.obj = obj, .path = "$", .rules = test_rules};
    gen_check_rules(&c, &t);
    char *e = buf_take(&errors, &len);
    CHECK_STR(e, "INFRA_001 $: unknown key \"zz\" (known keys: size, colour, code, items)\n"
                 "INFRA_001 $.size: 3 is not a size (one of 1, 2, 4)\n"
                 "INFRA_001 $.colour[1]: \"green\" is not an allowed value (one of red, blue)\n"
                 "INFRA_001 $.colour[2]: must be a string\n"
                 "INFRA_001 $: 5 keys, checked in table order\n"
                 "INFRA_001 $.code: \"abcd\" is not a code\n"
                 "INFRA_001 $.items[0].n: must be 1..3 (got 4)\n"
                 "INFRA_001 $.items[1].n: is required\n"
                 "INFRA_001 $.items[2]: must be an object\n");
    long long n = 0;
    CHECK(!gen_int_field(&t, "size", &n));
    CHECK_INT(n, 3);
    free(e);
    json_decref(obj);
}

static void test_secret_detection(void)
{
    const char *why;
    CHECK(gen_env_value_is_secret("https://u:p@host/x", &why));
    CHECK(!gen_env_value_is_secret("https://host/x@y", &why));
    CHECK(gen_env_value_is_secret("-----BEGIN PRIVATE KEY-----", &why));
    CHECK(gen_env_value_is_secret("SCWABCDEFGHIJ0123456", &why));
    CHECK(gen_env_value_is_secret("Zx9KqL2mNp4Rs6Tu8Vw0Yz1Ab3Cd5Ef7Gh", &why));
    CHECK(!gen_env_value_is_secret("6f1f4b2e-8d3a-4c55-9b1e-2a7c0d9e4f10", &why));
    CHECK(!gen_env_value_is_secret("rg.fr-par.scw.cloud/platform/documentation:1.4.2", &why));
    CHECK(gen_env_name_is_secret("github_token", &why));
    CHECK(!gen_env_name_is_secret("LOG_LEVEL", &why));
}

/* ---- suggestions ---- */

static void test_edit_distance(void)
{
    CHECK_INT(word_edit_distance("", ""), 0);
    CHECK_INT(word_edit_distance("abc", ""), 3);
    CHECK_INT(word_edit_distance("", "ab"), 2);
    CHECK_INT(word_edit_distance("memory", "memory"), 0);
    CHECK_INT(word_edit_distance("memroy", "memory"), 1); /* a swap is one edit */
    CHECK_INT(word_edit_distance("cpus", "cpu"), 1);
    CHECK_INT(word_edit_distance("cpu", "cpus"), 1);
    CHECK_INT(word_edit_distance("kitten", "sitting"), 3);
    CHECK_INT(word_edit_distance("sitting", "kitten"), 3);
    /* No substring is edited twice: "ca" -> "ac" -> "abc" would be 2, alignment says 3. */
    CHECK_INT(word_edit_distance("ca", "abc"), 3);
}

static const char *const keys_in_order[] = {"name",      "image",     "cpu",     "memory",
                                            "min_scale", "max_scale", "timeout", NULL};

static void check_nearest(const char *s, const char *const *candidates, const char *want)
{
    const char *got = word_nearest(s, candidates);
    CHECK_STR(got ? got : "(none)", want ? want : "(none)");
}

static void test_nearest_threshold(void)
{
    static const char *const envs[] = {"dev", "staging", "production", NULL};
    static const char *const tie[] = {"cat", "bad", NULL};
    static const char *const none[] = {NULL};
    check_nearest("memroy", keys_in_order, "memory");
    check_nearest("cpus", keys_in_order, "cpu");
    check_nearest("minscale", keys_in_order, "min_scale");
    check_nearest("timeuot", keys_in_order, "timeout");
    check_nearest("stagin", envs, "staging");
    check_nearest("qa", envs, NULL);
    check_nearest("prod", envs, NULL); /* a prefix is not a typo */
    /* One edit always counts; then a third of the typed length, at most two. */
    check_nearest("dve", envs, "dev");
    check_nearest("dx", (const char *const[]){"dv", NULL}, "dv");
    check_nearest("xy", (const char *const[]){"ab", NULL}, NULL);
    check_nearest("abxye", (const char *const[]){"abcde", NULL}, NULL);
    check_nearest("abxyef", (const char *const[]){"abcdef", NULL}, "abcdef");
    check_nearest("abxyzfghi", (const char *const[]){"abcdefghi", NULL}, NULL);
    check_nearest("bat", tie, "cat"); /* equally close: the first wins */
    check_nearest("x", none, NULL);
}

static void test_suggest_text(void)
{
    static const char *const two[] = {"liveness", "startup", NULL};
    static const char *const none[] = {NULL};
    static const char *const quoted[] = {"a\"c", NULL};
    CHECK_TAKEN_STR(gen_suggest("memroy", keys_in_order, "known keys:"),
                    " (did you mean \"memory\"?)");
    CHECK_TAKEN_STR(gen_suggest("readiness", two, "known keys:"),
                    " (known keys: liveness, startup)");
    CHECK_TAKEN_STR(gen_suggest("readiness", two, NULL), "");
    CHECK_TAKEN_STR(gen_suggest("x", none, "one of"), "");
    /* Candidates may be the user's own strings: they are quoted like any user string. */
    CHECK_TAKEN_STR(gen_suggest("a\"b", quoted, NULL), " (did you mean \"a\\\"c\"?)");
}

/* Keys, enum values and declared names all go through the same suggestion. */
static void test_validator_suggestions(void)
{
    CHECK_ERROR(CT("\"cpu\":70,\"memroy\":128"),
                "INFRA_001 $.containers[0]: unknown key \"memroy\" (did you mean \"memory\"?)\n"
                "INFRA_001 $.containers[0].memory: is required");
    CHECK_ERROR(",\"container\":[]",
                "INFRA_001 $: unknown key \"container\" (did you mean \"containers\"?)");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"protocol\":\"http2\""),
                "INFRA_001 $.containers[0].protocol: \"http2\" is not a protocol (did you mean "
                "\"http1\"?)");
    CHECK_ERROR(CT("\"cpu\":70,\"memory\":128,\"privacy\":\"internal\""),
                "INFRA_001 $.containers[0].privacy: \"internal\" is not a privacy setting (one "
                "of public, private)");
    CHECK_ERROR(",\"secrets\":[{\"name\":\"db-password\"}]" CT(
                    "\"cpu\":70,\"memory\":128,\"secret_env\":{\"PW\":\"db-pasword\"}"),
                "INFRA_001 $.containers[0].secret_env.PW: secret \"db-pasword\" is not declared "
                "in $.secrets (did you mean \"db-password\"?)");
    CHECK_ERROR(",\"secrets\":[{\"name\":\"pw\"}],\"databases\":[{\"name\":\"db\","
                "\"admin_password_secret\":\"pw\",\"databases\":[\"shop\"],\"users\":[{"
                "\"name\":\"u\",\"password_secret\":\"pw\",\"privileges\":{\"shpo\":"
                "\"raedonly\"}}]}]",
                "INFRA_001 $.databases[0].users[0].privileges.shpo: database is not listed in "
                "databases (did you mean \"shop\"?)\n"
                "INFRA_001 $.databases[0].users[0].privileges.shpo: \"raedonly\" is not a "
                "privilege level (did you mean \"readonly\"?)");
}

/* ---- reports ---- */

static struct stack *load_valid(const char *extra)
{
    char *errors;
    struct stack *s = load_base(extra, &errors);
    CHECK_STR(errors, "");
    free(errors);
    return s;
}

static char *report_valid(const char *extra)
{
    struct buf out;
    size_t len;
    buf_init(&out, 0);
    struct stack *s = load_valid(extra);
    if (s)
        stack_report_valid(s, &out);
    stack_free(s);
    return buf_take(&out, &len);
}

static void test_report_valid(void)
{
    CHECK_TAKEN_STR(report_valid(""), "stack \"shop\" (dev): valid, 0 components\n");
    CHECK_TAKEN_STR(report_valid(",\"buckets\":[{\"name\":\"shop-data\"}]"),
                    "stack \"shop\" (dev): valid, 1 component: 1 bucket\n");
    /* Containers imply a network; disabled monitoring deploys nothing. */
    CHECK_TAKEN_STR(
        report_valid(CT("\"cpu\":70,\"memory\":128") ",\"monitoring\":{\"enabled\":false}"),
        "stack \"shop\" (dev): valid, 2 components: 1 network, 1 container\n");
    CHECK_TAKEN_STR(
        report_valid(",\"secrets\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"monitoring\":{},"
                     "\"registry\":{}"),
        "stack \"shop\" (dev): valid, 4 components: 2 secrets, 1 monitoring, 1 registry\n");
}

static void test_report_written(void)
{
    struct stack *s = load_valid("");
    struct stack_render_opts o = {.format = STACK_FORMAT_TOFU};
    struct stack_written w = {.files = 6, .modules = 1, .module_files = 5};
    struct buf out;
    size_t len;
    buf_init(&out, 0);
    stack_report_written(s, &o, "out/dev", &w, &out);
    o = (struct stack_render_opts){.format = STACK_FORMAT_TERRAGRUNT, .module_source = "../m"};
    w = (struct stack_written){.files = 1};
    stack_report_written(s, &o, "tg", &w, &out);
    char *text = buf_take(&out, &len);
    CHECK_STR(text, "stack \"shop\" (dev): rendered as tofu in out/dev, 6 files written, 1 module "
                    "copied (5 files)\n"
                    "stack \"shop\" (dev): rendered as terragrunt in tg, 1 file written, 0 "
                    "modules copied (--module-source ../m)\n");
    free(text);
    stack_free(s);
}

/* The log names every file as it is written, the counts match it. */
static void test_render_dir_log(void)
{
    struct stack *s = load_valid(",\"buckets\":[{\"name\":\"shop-data\"}]");
    struct stack_render_opts o = {.format = STACK_FORMAT_TOFU,
                                  .backend_url = "http://127.0.0.1:8080",
                                  .modules_dir = "module/scaleway"};
    struct buf log;
    size_t len;
    struct err err = {0};
    buf_init(&log, 0);
    struct stack_written w = {.log = &log};
    char *dir = xasprintf("%s/out", t_tempdir());
    CHECK_INT(stackgen_render_dir(s, &o, dir, &w, &err), 0);
    CHECK_INT(w.files, 6);
    CHECK_INT(w.modules, 1);
    CHECK(w.module_files >= 4); /* the module's own files: at least main, variables, ... */
    char *text = buf_take(&log, &len);
    char *want = xasprintf("wrote %s/backend.tf\nwrote %s/versions.tf\nwrote %s/providers.tf\n"
                           "wrote %s/variables.tf\nwrote %s/main.tf\nwrote %s/outputs.tf\n"
                           "copied %s/modules/bucket/ (%zu files)\n",
                           dir, dir, dir, dir, dir, dir, dir, w.module_files);
    CHECK_STR(text, want);
    free(want);
    free(text);
    free(dir);
    stack_free(s);
}

/* ---- rendering ---- */

static int cap_emit(const char *path, const char *data, size_t len, void *ctx, struct err *err)
{
    struct buf *b = ctx;
    buf_printf(b, err, "== %s\n", path);
    return buf_append(b, data, len, err);
}

static int cap_copy(const char *component, void *ctx, struct err *err)
{
    return buf_printf(ctx, err, "== copy %s\n", component);
}

/* Renders a valid stack into one text ("== path" before each file, "== copy c" per copied
 * module); stack_render must return want_rc. */
static char *render_stack(const char *doc, enum stack_format fmt, const char *module_source,
                          int want_rc)
{
    struct buf errors, out;
    size_t len;
    struct err err = {0};
    buf_init(&errors, 0);
    buf_init(&out, 0);
    struct stack *s = stack_load(doc, strlen(doc), &errors);
    CHECK_INT(errors.len, 0);
    buf_cleanup(&errors);
    struct stack_render_opts o = {
        .format = fmt, .backend_url = "http://127.0.0.1:8080", .module_source = module_source};
    struct stack_sink k = {.emit = cap_emit, .copy_module = cap_copy, .ctx = &out};
    CHECK_INT(stack_render(s, &o, &k, &err), want_rc);
    stack_free(s);
    return buf_take(&out, &len);
}

static void test_render_deterministic(void)
{
    const char *doc =
        "{\"containers\":[{\"name\":\"b\",\"image\":\"x:1\",\"cpu\":70,\"memory\":128,"
        "\"env\":{\"Z\":\"${not}\",\"A\":\"1\"}},{\"name\":\"a\",\"image\":\"y:1\","
        "\"cpu\":140,\"memory\":256}],"
        "\"stack\":{\"project_id\":\"6f1f4b2e-8d3a-4c55-9b1e-2a7c0d9e4f10\","
        "\"region\":\"nl-ams\",\"environment\":\"dev\",\"name\":\"shop\"}}";
    for (int f = 0; f < 2; f++) {
        char *a = render_stack(doc, (enum stack_format)f, NULL, 0),
             *b = render_stack(doc, (enum stack_format)f, NULL, 0);
        CHECK_STR(a, b);
        free(b);
        if (f == 0) {
            CHECK(strstr(a, "address        = \"http://127.0.0.1:8080/v1/states/shop/dev\"\n"));
            CHECK(strstr(a, "lock_method    = \"LOCK\"\n"));
            CHECK(strstr(a, "Z = \"$${not}\"\n"));
            CHECK(strstr(a, "== copy network\n== copy containers\n"));
            CHECK(strstr(a, "  containers = {\n    a = {\n") != NULL);
        } else {
            CHECK(strstr(a, "/v1/states/shop/dev/${path_relative_to_include()}\""));
            CHECK(strstr(a, "== containers/terragrunt.hcl\n"));
            CHECK(strstr(a, "dependency \"network\" {\n"));
        }
        free(a);
    }
}

/* check accepts each of good and refuses each of bad with ERR_INVALID (NULL-terminated). */
static void check_inputs(int (*check)(const char *, struct err *), const char *const *good,
                         const char *const *bad)
{
    for (; *good; good++) {
        struct err e = {0};
        CHECK_INT(check(*good, &e), 0);
    }
    for (; *bad; bad++) {
        struct err e = {0};
        CHECK_INT(check(*bad, &e), -1);
        CHECK_INT(e.code, ERR_INVALID);
    }
}

static void test_backend_url(void)
{
    static const char *const good[] = {"https://state.example.com", "http://127.0.0.1:8080/prefix",
                                       NULL};
    static const char *const bad[] = {"ftp://x", "https://u:p@x", "https://x/", "https://x/${a}",
                                      NULL};
    check_inputs(stack_backend_url_check, good, bad);
}

#define CHECK_SOURCE(prefix, tg, want)                                                             \
    do {                                                                                           \
        char *s_ = gen_module_source(prefix, "containers", tg);                                    \
        CHECK_STR(s_, want);                                                                       \
        free(s_);                                                                                  \
    } while (0)

static void test_module_source(void)
{
    /* The default: the copy in DIR/modules. */
    CHECK_SOURCE(NULL, false, "./modules/containers");
    CHECK_SOURCE(NULL, true, "../modules//containers");
    /* Local paths are relative to DIR; units are one directory lower. */
    CHECK_SOURCE("../../module/scaleway", false, "../../module/scaleway/containers");
    CHECK_SOURCE("../../module/scaleway", true, "../../../module/scaleway//containers");
    CHECK_SOURCE("./vendor/scaleway", true, "../vendor/scaleway//containers");
    /* Remote: the subdirectory goes after an existing //, the query last. */
    CHECK_SOURCE("git::https://git.example.com/stated.git//module/scaleway?ref=v1.2.0", false,
                 "git::https://git.example.com/stated.git//module/scaleway/containers?ref=v1.2.0");
    CHECK_SOURCE("git::https://git.example.com/stated.git//module/scaleway?ref=v1.2.0", true,
                 "git::https://git.example.com/stated.git//module/scaleway/containers?ref=v1.2.0");
    CHECK_SOURCE("git::ssh://git@host:2222/m.git?ref=v1&depth=1", true,
                 "git::ssh://git@host:2222/m.git//containers?ref=v1&depth=1");
    CHECK_SOURCE("github.com/org/modules", false, "github.com/org/modules//containers");
    CHECK_SOURCE("/opt/stated/scaleway", false, "/opt/stated/scaleway//containers");

    static const char *const good[] = {"../../module/scaleway",
                                       "git::https://h/s.git//module/scaleway?ref=v1", NULL};
    static const char *const bad[] = {"",           "?ref=v1",          "../my modules",
                                      "../module/", "../module?ref=v1", NULL};
    check_inputs(stack_module_source_check, good, bad);
}

/* With a module source nothing is copied and every call names it. */
static void test_render_module_source(void)
{
    const char *doc = "{\"buckets\":[{\"name\":\"shop-data\"}],"
                      "\"stack\":{\"project_id\":\"6f1f4b2e-8d3a-4c55-9b1e-2a7c0d9e4f10\","
                      "\"region\":\"nl-ams\",\"environment\":\"dev\",\"name\":\"shop\"}}";
    char *text = render_stack(doc, STACK_FORMAT_TOFU, "git::https://h/s.git//m?ref=v2", 0);
    CHECK(strstr(text, "source = \"git::https://h/s.git//m/bucket?ref=v2\"\n") != NULL);
    CHECK(strstr(text, "== copy") == NULL);
    free(text);
    text = render_stack(doc, STACK_FORMAT_TERRAGRUNT, "../m?ref=v2", -1);
    CHECK_STR(text, "");
    free(text);
}

int main(void)
{
    RUN(test_quote_escapes);
    RUN(test_escape_without_quotes);
    RUN(test_alignment_runs);
    RUN(test_blocks_blank_lines);
    RUN(test_tuples_and_keys);
    RUN(test_validator_valid);
    RUN(test_validator_stack_rules);
    RUN(test_validator_container_rules);
    RUN(test_validator_production_rules);
    RUN(test_validator_json_errors);
    RUN(test_rule_checker);
    RUN(test_secret_detection);
    RUN(test_edit_distance);
    RUN(test_nearest_threshold);
    RUN(test_suggest_text);
    RUN(test_validator_suggestions);
    RUN(test_report_valid);
    RUN(test_report_written);
    RUN(test_render_dir_log);
    RUN(test_render_deterministic);
    RUN(test_backend_url);
    RUN(test_module_source);
    RUN(test_render_module_source);
    return t_report();
}
