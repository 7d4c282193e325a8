/* tests/unit/test_console.c: the console's server side that needs no socket: the session
 * cookie (seal, open, tampering, a wrong key, idle and absolute expiry on an injected clock,
 * refresh), the CSRF check, the Cookie header parser, and the embedded pages' lookup. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "common/util.h"
#include "store/store.h"
#include "tests/unit/t.h"

#define SEC  1000000LL
#define IDLE (3600 * SEC)
#define MAX  (12 * 3600 * SEC)
#define T0   (1800000000LL * SEC)

static struct keyring *key_of(unsigned char fill)
{
    unsigned char raw[32];
    struct err e = {0};
    memset(raw, fill, sizeof(raw));
    char *b64 = base64_encode(raw, sizeof(raw));
    struct keyring *kr = keyring_parse(b64, "test", &e);
    free(b64);
    CHECK(kr != NULL);
    return kr;
}

static char *sealed(struct keyring *kr, struct session *s)
{
    struct err e = {0};
    char *v = NULL;
    session_new(s, "tok-secret-1234567890", T0);
    CHECK_INT(session_seal(kr, s, &v, &e), 0);
    return v;
}

static void test_seal_open(void)
{
    struct keyring *kr = key_of(1);
    struct session s, o;
    struct err e = {0};
    char *v = sealed(kr, &s);
    CHECK(strstr(v, "tok-secret") == NULL); /* sealed, not merely encoded */
    CHECK_INT(session_open(kr, v, T0 + SEC, IDLE, MAX, &o, &e), 0);
    CHECK_STR(o.credential, "tok-secret-1234567890");
    CHECK_STR(o.sid, s.sid);
    CHECK_STR(o.csrf, s.csrf);
    CHECK_INT(o.issued_us, T0);
    CHECK_INT(o.seen_us, T0);
    CHECK_INT(strlen(s.sid), 32);
    session_cleanup(&o);
    /* Two sessions of one credential differ in everything random. */
    struct session s2;
    char *v2 = sealed(kr, &s2);
    CHECK(strcmp(v, v2) != 0);
    CHECK(strcmp(s.csrf, s2.csrf) != 0);
    session_cleanup(&s2);
    free(v2);
    session_cleanup(&s);
    free(v);
    keyring_free(kr);
}

static void test_tamper_and_wrong_key(void)
{
    struct keyring *kr = key_of(1), *other = key_of(2);
    struct session s, o;
    char *v = sealed(kr, &s);
    struct err e = {0};
    CHECK_INT(session_open(other, v, T0, IDLE, MAX, &o, &e), -1);
    CHECK_INT(e.code, ERR_AUTH);
    /* Every byte changed in turn (base64 chars swapped for another valid one) fails. */
    size_t n = strlen(v), bad = 0;
    for (size_t i = 0; i < n; i += 7) {
        char *t = xstrdup(v);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        err_clear(&e);
        if (session_open(kr, t, T0, IDLE, MAX, &o, &e) == 0) {
            bad++;
            session_cleanup(&o);
        }
        free(t);
    }
    CHECK_INT(bad, 0);
    const char *junk[] = {"", "x", "not base64 at all!", "U1RBVEVERU5DMQ=="};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        err_clear(&e);
        CHECK_INT(session_open(kr, junk[i], T0, IDLE, MAX, &o, &e), -1);
        CHECK_INT(e.code, ERR_AUTH);
    }
    /* A truncated cookie fails too. */
    v[n / 2] = '\0';
    err_clear(&e);
    CHECK_INT(session_open(kr, v, T0, IDLE, MAX, &o, &e), -1);
    session_cleanup(&s);
    free(v);
    keyring_free(kr);
    keyring_free(other);
}

static void test_expiry(void)
{
    struct keyring *kr = key_of(3);
    struct session s, o;
    struct err e = {0};
    char *v = sealed(kr, &s);
    CHECK_INT(session_open(kr, v, T0 + IDLE - 1, IDLE, MAX, &o, &e), 0);
    session_cleanup(&o);
    CHECK_INT(session_open(kr, v, T0 + IDLE, IDLE, MAX, &o, &e), -1);
    CHECK_INT(e.code, ERR_AUTH);
    CHECK(strstr(e.msg, "expired") != NULL);
    free(v);
    /* Used every 30 minutes (re-issued with seen = now): alive until the absolute limit. */
    int64_t now = T0;
    for (int i = 0; i < 23; i++) {
        now += 1800 * SEC;
        CHECK(session_needs_refresh(&s, now, IDLE));
        s.seen_us = now;
    }
    err_clear(&e);
    CHECK_INT(session_seal(kr, &s, &v, &e), 0);
    CHECK_INT(session_open(kr, v, T0 + MAX - 1, IDLE, MAX, &o, &e), 0);
    session_cleanup(&o);
    CHECK_INT(session_open(kr, v, T0 + MAX, IDLE, MAX, &o, &e), -1);
    CHECK_INT(e.code, ERR_AUTH);
    free(v);
    /* Refresh: at most once a minute, and at half a short idle time. */
    s.seen_us = T0;
    CHECK(!session_needs_refresh(&s, T0 + 59 * SEC, IDLE));
    CHECK(session_needs_refresh(&s, T0 + 60 * SEC, IDLE));
    CHECK(!session_needs_refresh(&s, T0 + SEC - 1, 2 * SEC));
    CHECK(session_needs_refresh(&s, T0 + SEC, 2 * SEC));
    session_cleanup(&s);
    keyring_free(kr);
}

static void test_too_long(void)
{
    struct keyring *kr = key_of(4);
    struct session s;
    struct err e = {0};
    char *big = xmalloc(SESSION_COOKIE_MAX + 1);
    memset(big, 'a', SESSION_COOKIE_MAX);
    big[SESSION_COOKIE_MAX] = '\0';
    session_new(&s, big, T0);
    char *v = NULL;
    CHECK_INT(session_seal(kr, &s, &v, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK(v == NULL);
    session_cleanup(&s);
    free(big);
    keyring_free(kr);
}

static void test_csrf(void)
{
    struct session s;
    session_new(&s, "t", T0);
    CHECK(session_csrf_ok(s.csrf, s.csrf));
    CHECK(!session_csrf_ok(s.csrf, NULL));
    CHECK(!session_csrf_ok(s.csrf, ""));
    char *wrong = xstrdup(s.csrf);
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    CHECK(!session_csrf_ok(s.csrf, wrong));
    wrong[0] = s.csrf[0];
    wrong[strlen(wrong) - 1] = '\0';
    CHECK(!session_csrf_ok(s.csrf, wrong)); /* a prefix is not the token */
    free(wrong);
    CHECK(!session_csrf_ok("", "")); /* no session, no token matches */
    session_cleanup(&s);
}

static void test_cookie_value(void)
{
    char *v = session_cookie_value("a=1; stated_session=abc+/=; b=2", "stated_session");
    CHECK_STR(v, "abc+/=");
    free(v);
    v = session_cookie_value("stated_session=x", "stated_session");
    CHECK_STR(v, "x");
    free(v);
    v = session_cookie_value("a=1, stated_session=y ", "stated_session"); /* HTTP/2 join */
    CHECK_STR(v, "y");
    free(v);
    CHECK(session_cookie_value("xstated_session=1; stated_sessionx=2", "stated_session") == NULL);
    CHECK(session_cookie_value(NULL, "stated_session") == NULL);
    CHECK(session_cookie_value("", "stated_session") == NULL);
}

static void test_assets(void)
{
    const struct ui_asset *a = ui_asset_find("");
    CHECK(a != NULL);
    CHECK(a != NULL && strcmp(a->name, "index.html") == 0);
    CHECK(ui_asset_find("index.html") == a);
    CHECK(a != NULL && a->etag[0] == '"' && a->len > 0);
    CHECK(ui_asset_find("app.js") != NULL);
    const char *missing[] = {"../v1/states", "%2e%2e/x",     "/index.html", "index.html/",
                             "nope.js",      "./index.html", "INDEX.HTML"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
        if (ui_asset_find(missing[i]) != NULL)
            CHECK_STR(missing[i], "(should not be found)");
    size_t n = 0;
    for (const struct ui_asset *p = ui_assets; p->name != NULL; p++)
        n++;
    CHECK_INT(n, ui_nassets);
    CHECK_STR(ui_content_type("a.html"), "text/html; charset=utf-8");
    CHECK_STR(ui_content_type("a.js"), "text/javascript; charset=utf-8");
    CHECK_STR(ui_content_type("a.css"), "text/css; charset=utf-8");
    CHECK_STR(ui_content_type("a.svg"), "image/svg+xml");
    CHECK_STR(ui_content_type("a.png"), "image/png");
    CHECK_STR(ui_content_type("Makefile"), "application/octet-stream");
}

int main(void)
{
    RUN(test_seal_open);
    RUN(test_tamper_and_wrong_key);
    RUN(test_expiry);
    RUN(test_too_long);
    RUN(test_csrf);
    RUN(test_cookie_value);
    RUN(test_assets);
    return t_report();
}
