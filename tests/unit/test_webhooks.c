/* tests/unit/test_webhooks.c: the --webhooks file's checks, the event mapping and payloads,
 * the signature, Slack escaping, the backoff schedule, and the audit read they rely on. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend/backend.h"
#include "tests/unit/t.h"

/* Parses text; returns the list or NULL with the message in msg. */
static struct webhook_list *parse(const char *text, char msg[256])
{
    struct err e = {0};
    struct webhook_list *l = webhooks_parse(text, strlen(text), true, &e);
    snprintf(msg, 256, "%s", e.msg);
    return l;
}

static void expect_error(const char *text, const char *fragment)
{
    char msg[256];
    struct webhook_list *l = parse(text, msg);
    CHECK(l == NULL);
    if (strstr(msg, fragment) == NULL)
        CHECK_STR(msg, fragment);
    webhooks_list_free(l);
}

static void test_config_ok(void)
{
    setenv("T_HOOK_SECRET", "s3cret", 1);
    char msg[256];
    struct webhook_list *l =
        parse("[{\"url\":\"http://127.0.0.1:9/x\",\"secret_env\":\"T_HOOK_SECRET\"},"
              "{\"name\":\"ops\",\"url\":\"https://hooks.example.com/a\",\"secret_env\":"
              "\"T_HOOK_SECRET\",\"events\":[\"state.*\",\"lock.force_unlocked\"],"
              "\"states\":\"prod/**\",\"format\":\"slack\"}]",
              msg);
    CHECK(l != NULL);
    if (l == NULL)
        return;
    CHECK_INT(l->n, 2);
    CHECK_STR(l->v[0].name, "webhook-1");
    CHECK_STR(l->v[0].states, "**");
    CHECK_STR(l->v[0].secret, "s3cret");
    CHECK_STR(l->v[1].host, "hooks.example.com");
    CHECK(l->v[1].slack);
    CHECK(webhook_wants(&l->v[1], "state.written", "prod/app"));
    CHECK(!webhook_wants(&l->v[1], "state.written", "dev/app"));
    CHECK(!webhook_wants(&l->v[1], "lock.acquired", "prod/app"));
    CHECK(webhook_wants(&l->v[1], "lock.force_unlocked", "prod/app"));
    CHECK(webhook_wants(&l->v[0], "lock.stale", "a"));
    webhooks_list_free(l);
    /* loopback http allowed, in every spelling */
    l = parse("[{\"url\":\"http://localhost:8/x\",\"secret_env\":\"T_HOOK_SECRET\"},"
              "{\"url\":\"http://[::1]:8/x\",\"secret_env\":\"T_HOOK_SECRET\"}]",
              msg);
    CHECK(l != NULL);
    webhooks_list_free(l);
}

static void test_config_errors(void)
{
    setenv("T_HOOK_SECRET", "s3cret", 1);
    unsetenv("T_HOOK_UNSET");
    expect_error("{}", "JSON list");
    expect_error(
        "[{\"url\":\"https://a.example/x\",\"secret_env\":\"T_HOOK_SECRET\",\"evnets\":[]}]",
        "did you mean \"events\"");
    expect_error("[{\"url\":\"https://a.example/x\",\"secret_env\":\"T_HOOK_SECRET\","
                 "\"events\":[\"state.writen\"]}]",
                 "did you mean \"state.written\"");
    expect_error("[{\"url\":\"https://a.example/x\",\"secret_env\":\"T_HOOK_SECRET\","
                 "\"events\":[\"build.*\"]}]",
                 "unknown event type \"build.*\"");
    expect_error("[{\"url\":\"https://a.example/x\",\"secret_env\":\"T_HOOK_UNSET\"}]",
                 "T_HOOK_UNSET is not set");
    expect_error("[{\"url\":\"https://a.example/x\"}]", "exactly one of secret_env");
    expect_error("[{\"url\":\"http://a.example/x\",\"secret_env\":\"T_HOOK_SECRET\"}]",
                 "must be https");
    expect_error("[{\"url\":\"https://169.254.169.254/latest\",\"secret_env\":\"T_HOOK_SECRET\"}]",
                 "link-local or metadata");
    expect_error("[{\"url\":\"https://[fd00:ec2::254]/latest\",\"secret_env\":\"T_HOOK_SECRET\"}]",
                 "link-local or metadata");
    expect_error("[{\"url\":\"https://a.example/x\",\"secret_env\":\"T_HOOK_SECRET\","
                 "\"format\":\"xml\"}]",
                 "json or slack");
    expect_error(
        "[{\"name\":\"a\",\"url\":\"https://a.example/x\",\"secret_env\":\"T_HOOK_SECRET\"},"
        "{\"name\":\"a\",\"url\":\"https://b.example/x\",\"secret_env\":\"T_HOOK_SECRET\"}]",
        "two webhooks are named a");
    char msg[256];
    struct webhook_list *l = parse("[{\"url\":\"https://169.254.169.254/x\",\"secret_env\":"
                                   "\"T_HOOK_SECRET\",\"allow_private\":true}]",
                                   msg);
    CHECK(l != NULL);
    webhooks_list_free(l);
    struct err e = {0};
    const char *lit = "[{\"url\":\"https://[fd00:ec2::254]/x\",\"secret_env\":\"T_HOOK_SECRET\"}]";
    l = webhooks_parse(lit, strlen(lit), false, &e); /* refused even without resolving */
    CHECK(l == NULL && strstr(e.msg, "metadata") != NULL);
    webhooks_list_free(l);
    CHECK(webhook_address_forbidden("169.254.169.254"));
    CHECK(webhook_address_forbidden("fd00:ec2::254"));
    CHECK(webhook_address_forbidden("::ffff:169.254.1.2"));
    CHECK(webhook_address_forbidden("fe80::1"));
    CHECK(!webhook_address_forbidden("127.0.0.1"));
    CHECK(!webhook_address_forbidden("10.0.0.1"));
}

/* A known vector, computed independently: HMAC-SHA256("s3cret", "1700000000.{\"a\":1}"). */
static void test_signature(void)
{
    char sig[WEBHOOK_SIG_MAX];
    webhook_sign("s3cret", 1700000000, "{\"a\":1}", 7, sig);
    CHECK_STR(sig, "sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940");
}

static void test_mapping_and_payload(void)
{
    struct audit_event ev;
    audit_event_init(&ev);
    static const char *const pairs[][2] = {{"write", "state.written"},
                                           {"delete", "state.deleted"},
                                           {"restore", "state.restored"},
                                           {"state-move", "state.moved"},
                                           {"snapshot-delete", "snapshot.deleted"},
                                           {"lock", "lock.acquired"},
                                           {"unlock", "lock.released"},
                                           {"lock-expired", "lock.expired"},
                                           {"force-unlock", "lock.force_unlocked"},
                                           {"lock-stale", "lock.stale"}};
    ev.status = 200;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        snprintf(ev.action, sizeof(ev.action), "%s", pairs[i][0]);
        CHECK_STR(webhook_event_type(&ev), pairs[i][1]);
    }
    snprintf(ev.action, sizeof(ev.action), "get");
    CHECK(webhook_event_type(&ev) == NULL);
    snprintf(ev.action, sizeof(ev.action), "write");
    ev.status = 409;
    CHECK(webhook_event_type(&ev) == NULL); /* refused: nothing happened */
    ev.status = 200;
    ev.time_us = 1700000000000000LL;
    ev.serial = 7;
    ev.has_serial = true;
    snprintf(ev.state, sizeof(ev.state), "prod/app");
    snprintf(ev.actor, sizeof(ev.actor), "ci");
    snprintf(ev.lock_id, sizeof(ev.lock_id), "L1");
    snprintf(ev.lock_who, sizeof(ev.lock_who), "bob@ci");
    struct webhook w = {.name = "rx", .states = (char *)(uintptr_t) "**"};
    char *body = webhook_body(&w, 42, &ev);
    json_t *o = json_loads(body, 0, NULL);
    CHECK(o != NULL);
    CHECK_STR(json_string_value(json_object_get(o, "id")), "42-rx");
    CHECK_STR(json_string_value(json_object_get(o, "type")), "state.written");
    CHECK_STR(json_string_value(json_object_get(o, "time")), "2023-11-14T22:13:20.000000Z");
    CHECK_STR(json_string_value(json_object_get(o, "state")), "prod/app");
    CHECK_STR(json_string_value(json_object_get(o, "actor")), "ci");
    CHECK_INT(json_integer_value(json_object_get(o, "serial")), 7);
    CHECK_STR(json_string_value(json_object_get(json_object_get(o, "lock"), "who")), "bob@ci");
    json_decref(o);
    free(body);
    w.slack = true;
    snprintf(ev.state, sizeof(ev.state), "a<b>&c");
    body = webhook_body(&w, 42, &ev);
    o = json_loads(body, 0, NULL);
    const char *text = json_string_value(json_object_get(o, "text"));
    CHECK(text != NULL && strstr(text, "a&lt;b&gt;&amp;c") != NULL);
    CHECK(text != NULL && strchr(text, '<') == NULL);
    json_decref(o);
    free(body);
}

static void test_slack_escape(void)
{
    struct buf b;
    buf_init(&b, 0);
    webhook_slack_escape("<!channel> & <http://x|y>", &b);
    buf_append(&b, "", 1, NULL);
    CHECK_STR(b.data, "&lt;!channel&gt; &amp; &lt;http://x|y&gt;");
    buf_cleanup(&b);
}

static void test_backoff(void)
{
    /* rnd 0 gives the low end (half), a huge rnd stays within the step. */
    CHECK_INT(webhook_backoff_ms(1, 0), 500);
    CHECK_INT(webhook_backoff_ms(2, 0), 1000);
    CHECK_INT(webhook_backoff_ms(3, 0), 2000);
    CHECK_INT(webhook_backoff_ms(11, 0), 512000);
    CHECK_INT(webhook_backoff_ms(13, 0), 1800000); /* capped at 1 h */
    CHECK_INT(webhook_backoff_ms(40, 0), 1800000);
    for (unsigned a = 1; a < 50; a++) {
        int64_t d = webhook_backoff_ms(a, UINT64_MAX - a);
        CHECK(d >= 500 && d <= WEBHOOK_BACKOFF_CAP_MS);
    }
    /* 24 h of trying is about 35 tries: the schedule does give up in finite time. */
    int64_t total = 0;
    unsigned tries = 0;
    while (total < WEBHOOK_GIVE_UP_MS && tries < 1000)
        total += webhook_backoff_ms(++tries, 0);
    CHECK(tries > 20 && tries < 60);
}

static int collect(void *ctx, uint64_t seq, const struct audit_event *ev)
{
    struct buf *b = ctx;
    buf_printf(b, NULL, "%llu:%s ", (unsigned long long)seq, ev->state);
    return 0;
}

/* The audit trail read in pages after a cursor, the bookmark not skipping anything. */
static void test_read_after(void)
{
    struct err e = {0};
    struct auditlog *al = auditlog_jsonl_new(t_tempdir(), &e);
    CHECK(al != NULL);
    if (al == NULL)
        return;
    for (int i = 1; i <= 5; i++) {
        struct audit_event ev;
        audit_event_init(&ev);
        snprintf(ev.action, sizeof(ev.action), "write");
        snprintf(ev.state, sizeof(ev.state), "s%d", i);
        ev.status = 200;
        CHECK_INT(al->ops->append(al, &ev, &e), 0);
    }
    struct buf b;
    buf_init(&b, 0);
    uint64_t head = 0;
    CHECK_INT(al->ops->read_after(al, 1, 2, collect, &b, &head, &e), 0);
    CHECK_INT(head, 5);
    CHECK_INT(al->ops->read_after(al, 3, 10, collect, &b, &head, &e), 0);
    CHECK_INT(al->ops->read_after(al, 0, 1, collect, &b, &head, &e), 0);
    CHECK_INT(al->ops->read_after(al, 5, 10, collect, &b, &head, &e), 0);
    buf_append(&b, "", 1, NULL);
    CHECK_STR(b.data, "2:s2 3:s3 4:s4 5:s5 1:s1 ");
    buf_cleanup(&b);
    al->ops->free(al);
}

int main(void)
{
    RUN(test_config_ok);
    RUN(test_config_errors);
    RUN(test_signature);
    RUN(test_mapping_and_payload);
    RUN(test_slack_escape);
    RUN(test_backoff);
    RUN(test_read_after);
    return t_report();
}
