/* tests/unit/test_oidc.c: OIDC JWTs (auth/jwt.c, auth/oidc.c) without a network: keys made here
 * with OpenSSL (RSA 2048, EC P-256), JWKS documents and tokens built here, the keys installed
 * with oidc_set_keys as a fetch would. Fetching itself is tests/oidc/oidc-check.sh's. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/auth_int.h"
#include "common/util.h"
#include "tests/unit/t.h"

#define GITLAB "https://gitlab.example.com"
#define GITHUB "https://token.actions.githubusercontent.com"
#define DOWN   "http://127.0.0.1:1"

/* Rules of every kind: order, patterns, path and non-path placeholders, a role per rule. */
static const char CONFIG[] =
    "{\"issuers\": ["
    " {\"issuer\": \"" GITLAB "\", \"audience\": \"stated\", \"rules\": ["
    "  {\"claims\": {\"project_path\": \"platform/*\", \"ref_protected\": \"true\"},"
    "   \"role\": \"write\", \"states\": \"{project_path}/**\","
    "   \"name\": \"gitlab:{project_path}@{ref}\"},"
    "  {\"claims\": {\"project_path\": \"platform/*\"}, \"role\": \"plan\","
    "   \"states\": \"{project_path}/**\", \"name\": \"gitlab-plan:{project_path}\"},"
    "  {\"claims\": {\"project_id\": 42, \"ci\": true}, \"role\": \"outputs\","
    "   \"states\": \"shared/{environment}/*\", \"name\": \"outputs:{project_id}\"},"
    "  {\"claims\": {\"user_login\": \"**\"}, \"role\": \"read\", \"states\": \"u/{user_login}/*\","
    "   \"name\": \"user:{user_login}\"}]},"
    " {\"issuer\": \"" GITHUB "\", \"audience\": \"stated\","
    "  \"path_claims\": [\"repository\", \"ref\"], \"rules\": ["
    "  {\"claims\": {\"repository\": \"octo/**\"}, \"role\": \"admin\","
    "   \"states\": \"gh/{repository}/*\", \"name\": \"github:{repository}:{ref}\"}]},"
    " {\"issuer\": \"" DOWN "\", \"audience\": \"stated\", \"rules\": ["
    "  {\"role\": \"read\", \"states\": \"**\", \"name\": \"down\"}]}]}";

static EVP_PKEY *rsa, *ec, *rsa_small;
static struct oidc *oidc;

/* ------------------------------------------------------------------ building tokens */

static char *b64url(const void *data, size_t len)
{
    char *s = base64_encode(data, len);
    size_t w = 0;
    for (size_t i = 0; s[i] != '\0' && s[i] != '='; i++)
        s[w++] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
    s[w] = '\0';
    return s;
}

static char *bn_b64url(EVP_PKEY *k, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    EVP_PKEY_get_bn_param(k, param, &bn);
    int n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64url(buf, (size_t)n);
}

static void set_taken(json_t *o, const char *key, char *value)
{
    json_object_set_new(o, key, json_string(value));
    free(value);
}

static json_t *jwk_of(EVP_PKEY *k, const char *kid)
{
    json_t *j = json_pack("{s:s,s:s}", "kid", kid, "use", "sig");
    if (EVP_PKEY_is_a(k, "RSA")) {
        json_object_set_new(j, "kty", json_string("RSA"));
        set_taken(j, "n", bn_b64url(k, OSSL_PKEY_PARAM_RSA_N, 0));
        set_taken(j, "e", bn_b64url(k, OSSL_PKEY_PARAM_RSA_E, 0));
    } else {
        json_object_set_new(j, "kty", json_string("EC"));
        json_object_set_new(j, "crv", json_string("P-256"));
        set_taken(j, "x", bn_b64url(k, OSSL_PKEY_PARAM_EC_PUB_X, 32));
        set_taken(j, "y", bn_b64url(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
    }
    return j;
}

static char *jwks_of(json_t *keys)
{
    json_t *doc = json_pack("{s:o}", "keys", keys);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

static char *pubkey_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *s = xstrndup(data, (size_t)n);
    BIO_free(b);
    return s;
}

/* The signature of data: RSASSA-PKCS1-v1_5 or ECDSA as R || S with SHA-256, or HMAC-SHA256
 * keyed with the RSA key's public PEM (the algorithm-confusion forgery). */
static size_t sign(EVP_PKEY *k, bool hmac, const char *data, unsigned char sig[512])
{
    size_t n = 512;
    if (hmac) {
        char *secret = pubkey_pem(k);
        EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret),
                  (const unsigned char *)data, strlen(data), sig, 512, &n);
        free(secret);
        return n;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestSignInit_ex(c, NULL, "SHA256", NULL, NULL, k, NULL);
    EVP_DigestSign(c, sig, &n, (const unsigned char *)data, strlen(data));
    EVP_MD_CTX_free(c);
    if (EVP_PKEY_is_a(k, "EC")) {
        const unsigned char *p = sig;
        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)n);
        BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32);
        ECDSA_SIG_free(s);
        n = 64;
    }
    return n;
}

/* A compact JWS of the given header and claims texts; key NULL: no signature. */
static char *compact(const char *header, const char *claims, EVP_PKEY *key, bool hmac)
{
    char *h = b64url(header, strlen(header)), *p = b64url(claims, strlen(claims));
    char *signed_part = xasprintf("%s.%s", h, p);
    unsigned char sig[512];
    size_t n = key != NULL ? sign(key, hmac, signed_part, sig) : 0;
    char *s = b64url(sig, n);
    char *jwt = xasprintf("%s.%s", signed_part, s);
    free(h);
    free(p);
    free(signed_part);
    free(s);
    return jwt;
}

static json_t *claims_of(const char *iss, const char *project_path, const char *ref_protected)
{
    json_int_t now = (json_int_t)time(NULL);
    json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "iss", iss, "aud", "stated", "sub",
                          "project_path:platform/net:ref_type:branch:ref:main", "jti", "jti-1",
                          "iat", now, "nbf", now, "exp", now + 300, "ref", "main");
    if (project_path != NULL)
        json_object_set_new(c, "project_path", json_string(project_path));
    if (ref_protected != NULL)
        json_object_set_new(c, "ref_protected", json_string(ref_protected));
    return c;
}

/* c with the claim name set to v (stolen), or removed when v is NULL. */
static json_t *with(json_t *c, const char *name, json_t *v)
{
    if (v != NULL)
        json_object_set_new(c, name, v);
    else
        json_object_del(c, name);
    return c;
}

/* A token of alg and kid over claims (stolen), signed by key. */
static char *token(const char *alg, const char *kid, json_t *claims, EVP_PKEY *key)
{
    json_t *hdr = json_pack("{s:s,s:s}", "alg", alg, "typ", "JWT");
    if (kid != NULL)
        json_object_set_new(hdr, "kid", json_string(kid));
    char *h = json_dumps(hdr, JSON_COMPACT), *c = json_dumps(claims, JSON_COMPACT);
    char *jwt = compact(h, c, key, strncmp(alg, "HS", 2) == 0);
    json_decref(hdr);
    json_decref(claims);
    free(h);
    free(c);
    return jwt;
}

/* Claims of the first rule: project platform/net on a protected ref. */
static json_t *good_claims(void)
{
    return claims_of(GITLAB, "platform/net", "true");
}

static char *good_rsa(void)
{
    return token("RS256", "rsa1", good_claims(), rsa);
}

/* ------------------------------------------------------------------ checking answers */

static int expect_fail(const char *jwt, enum err_code code, const char *needle)
{
    struct auth_identity id = {.username = "ci"};
    struct err e = {0};
    int ok = CHECK_INT(oidc_authenticate(oidc, jwt, &id, &e), -1) && CHECK_INT(e.code, code) &&
             CHECK(strstr(e.msg, needle) != NULL) && CHECK_STR(id.name, "") &&
             CHECK_STR(id.username, "ci");
    if (!ok)
        printf("  message: %s (wanted \"%s\")\n", e.msg, needle);
    return ok;
}

/* Takes jwt (frees it). */
static void fails(char *jwt, enum err_code code, const char *needle)
{
    expect_fail(jwt, code, needle);
    free(jwt);
}

static int identify(json_t *claims, struct auth_identity *id, struct err *e)
{
    memset(id, 0, sizeof(*id));
    err_clear(e);
    int rc = oidc_identify(oidc, claims, (int64_t)time(NULL), id, e);
    json_decref(claims);
    return rc;
}

static void identify_fails(json_t *claims, enum err_code code, const char *needle)
{
    struct auth_identity id;
    struct err e;
    if (!(CHECK_INT(identify(claims, &id, &e), -1) && CHECK_INT(e.code, code) &&
          CHECK(strstr(e.msg, needle) != NULL)))
        printf("  message: %s (wanted \"%s\")\n", e.msg, needle);
}

/* ------------------------------------------------------------------ the tests */

static void test_b64url(void)
{
    unsigned char out[16];
    size_t n = sizeof(out);
    CHECK_INT(jwt_b64url_decode("aGk", 3, out, &n), 0);
    CHECK_MEM(out, n, "hi", 2);
    n = sizeof(out);
    CHECK_INT(jwt_b64url_decode("-_8", 3, out, &n), 0);
    CHECK_MEM(out, n, "\xfb\xff", 2);
    n = sizeof(out);
    CHECK_INT(jwt_b64url_decode("", 0, out, &n), 0);
    CHECK_INT(n, 0);
    const char *bad[] = {"aGk=", "aGl", "a", "aG+k", "aG/k", "aG k", "aGk\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = sizeof(out);
        CHECK_INT(jwt_b64url_decode(bad[i], strlen(bad[i]), out, &n), -1);
    }
    n = 1;
    CHECK_INT(jwt_b64url_decode("aGk", 3, out, &n), -1); /* does not fit */
}

static void test_is_jwt(void)
{
    char *jwt = good_rsa();
    CHECK(oidc_is_jwt(jwt));
    free(jwt);
    CHECK(oidc_is_jwt("eyJh.eyJi.c2ln"));
    CHECK(oidc_is_jwt("eyJh.eyJi.")); /* unsigned: still OIDC's, which refuses it */
    CHECK(!oidc_is_jwt("Xk4a9PqTn0d8wHrVb2yLmZcE1sJfU7gA6oKiN3tR5eW"));
    CHECK(!oidc_is_jwt("a.b"));
    CHECK(!oidc_is_jwt("a.b.c.d"));
    CHECK(!oidc_is_jwt(".b.c"));
    CHECK(!oidc_is_jwt("a..c"));
    CHECK(!oidc_is_jwt("a.b+.c"));
    CHECK(!oidc_is_jwt("a.b.c="));
    CHECK(!oidc_is_jwt(""));
}

static void test_good_tokens(void)
{
    struct auth_identity id = {.username = "gitlab-ci-token"};
    struct err e = {0};
    char *jwt = good_rsa();
    CHECK_INT(oidc_authenticate(oidc, jwt, &id, &e), 0);
    CHECK_STR(id.name, "gitlab:platform/net@main");
    CHECK_INT(id.role, ROLE_WRITE);
    CHECK_STR(id.pattern, "platform/net/**");
    CHECK_STR(id.issuer, GITLAB);
    CHECK_STR(id.subject, "project_path:platform/net:ref_type:branch:ref:main");
    CHECK_STR(id.jti, "jti-1");
    CHECK_STR(id.username, "gitlab-ci-token");
    CHECK(auth_allows(&id, AUTH_WRITE, "platform/net/prod"));
    CHECK(!auth_allows(&id, AUTH_WRITE, "platform/dns/prod"));
    free(jwt);

    memset(&id, 0, sizeof(id));
    jwt = token("ES256", "ec1", claims_of(GITLAB, "platform/dns", "false"), ec);
    CHECK_INT(oidc_authenticate(oidc, jwt, &id, &e), 0);
    CHECK_STR(id.name, "gitlab-plan:platform/dns");
    CHECK_INT(id.role, ROLE_PLAN);
    CHECK_STR(id.pattern, "platform/dns/**");
    free(jwt);

    /* No jti: allowed, recorded as "". */
    jwt = token("ES256", "ec1", with(good_claims(), "jti", NULL), ec);
    CHECK_INT(oidc_authenticate(oidc, jwt, &id, &e), 0);
    CHECK_STR(id.jti, "");
    free(jwt);
}

/* Good tokens but for one claim: times, audience, issuer, subject. */
static void test_claims_refused(void)
{
    json_int_t now = (json_int_t)time(NULL);
    const struct {
        const char *claim;
        json_t *value;
        const char *why;
    } cases[] = {
        {"exp", json_integer(now - 61), "expired"},
        {"exp", json_integer(INT64_MIN), "expired"},
        {"nbf", json_integer(now + 120), "not valid yet"},
        {"iat", json_integer(now + 120), "issued in the future"},
        {"iat", json_integer(INT64_MAX), "issued in the future"},
        {"exp", NULL, "no exp"},
        {"iat", NULL, "no iat"},
        {"exp", json_string("tomorrow"), "exp is not a number"},
        {"aud", json_string("other"), "aud does not name \"stated\""},
        {"aud", json_pack("[s,s]", "a", "statedx"), "aud does not name"},
        {"aud", NULL, "aud does not name"},
        {"iss", json_string(GITLAB "/"), "not a configured issuer"},
        {"iss", json_string("https://evil.example.com"), "not a configured issuer"},
        {"iss", NULL, "no iss"},
        {"sub", NULL, "no sub"},
        {"sub", json_string("a\nb"), "sub is not a string"},
        {"jti", json_integer(7), "jti is not a string"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        fails(token("RS256", "rsa1", with(good_claims(), cases[i].claim, cases[i].value), rsa),
              ERR_AUTH, cases[i].why);
}

static void test_claims_accepted(void)
{
    json_int_t now = (json_int_t)time(NULL);
    struct auth_identity id;
    struct err e;
    /* Within the 60 s leeway. */
    json_t *c = with(good_claims(), "exp", json_integer(now - 30));
    c = with(with(c, "nbf", json_integer(now + 30)), "iat", json_integer(now + 30));
    CHECK_INT(identify(c, &id, &e), 0);
    /* A NumericDate may be a JSON real; huge values do not overflow; nbf is optional. */
    CHECK_INT(identify(with(good_claims(), "exp", json_real((double)now + 100.5)), &id, &e), 0);
    c = with(good_claims(), "exp", json_integer(INT64_MAX));
    CHECK_INT(identify(with(c, "nbf", json_integer(INT64_MIN)), &id, &e), 0);
    CHECK_INT(identify(with(good_claims(), "nbf", NULL), &id, &e), 0);
    /* aud as an array holding the audience among other values. */
    c = with(good_claims(), "aud", json_pack("[i,s,s]", 1, "other", "stated"));
    CHECK_INT(identify(c, &id, &e), 0);
}

static void test_keys(void)
{
    fails(token("RS256", "rsa9", good_claims(), rsa), ERR_AUTH, "kid rsa9 is not a key of issuer");
    fails(token("RS256", NULL, good_claims(), rsa), ERR_AUTH, "no kid");
    /* An issuer whose keys could never be fetched: 503, whatever the kid. */
    fails(token("RS256", "rsa1", claims_of(DOWN, NULL, NULL), rsa), ERR_ISSUER_UNAVAILABLE,
          "no signing keys");
    /* Another issuer's key does not verify this issuer's tokens. */
    fails(token("RS256", "rsa1", claims_of(GITHUB, NULL, NULL), rsa), ERR_AUTH,
          "not a key of issuer");
    struct err e = {0};
    CHECK_INT(oidc_set_keys(oidc, "https://nope.example.com", "{}", 2, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
}

static void test_algs(void)
{
    const struct {
        const char *alg, *kid;
        EVP_PKEY *key;
        const char *why;
    } cases[] = {
        {"none", "rsa1", NULL, "alg none"},
        {"HS256", "rsa1", rsa, "alg HS256: shared-secret"}, /* keyed with the public key */
        {"RS512", "rsa1", rsa, "alg RS512 is not accepted"},
        {"PS256", "rsa1", rsa, "not accepted"},
        /* alg and key type must agree, whichever key signed. */
        {"ES256", "rsa1", ec, "does not fit key rsa1"},
        {"ES256", "rsa1", rsa, "does not fit key rsa1"},
        {"RS256", "ec1", rsa, "does not fit key ec1"},
        /* Signed by a key other than the one named. */
        {"RS256", "rsa1", rsa_small, "signature"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        fails(token(cases[i].alg, cases[i].kid, good_claims(), cases[i].key), ERR_AUTH,
              cases[i].why);
    const char *claims = "{\"iss\":\"" GITLAB "\",\"sub\":\"x\"}";
    fails(compact("{\"alg\":\"none\"}", claims, rsa, false), ERR_AUTH, "alg none");
    fails(compact("{\"kid\":\"rsa1\"}", claims, rsa, false), ERR_AUTH, "no alg");
    fails(compact("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"b64\"]}", claims, rsa, false),
          ERR_AUTH, "crit");
}

/* Replaces part i (0-2) of jwt by text (freeing jwt). */
static char *with_part(char *jwt, int i, const char *text)
{
    char *d1 = strchr(jwt, '.'), *d2 = strchr(d1 + 1, '.');
    *d1 = *d2 = '\0';
    char *out =
        xasprintf("%s.%s.%s", i == 0 ? text : jwt, i == 1 ? text : d1 + 1, i == 2 ? text : d2 + 1);
    free(jwt);
    return out;
}

static void test_tampered(void)
{
    /* The payload of a write token, rewritten to another project: the signature fails. */
    json_t *c = claims_of(GITLAB, "platform/dns", "true");
    char *cs = json_dumps(c, JSON_COMPACT), *p = b64url(cs, strlen(cs));
    json_decref(c);
    fails(with_part(good_rsa(), 1, p), ERR_AUTH, "does not verify");
    free(cs);
    free(p);
    c = claims_of(GITLAB, "platform/dns", "true");
    cs = json_dumps(c, JSON_COMPACT);
    p = b64url(cs, strlen(cs));
    json_decref(c);
    fails(with_part(token("ES256", "ec1", good_claims(), ec), 1, p), ERR_AUTH, "does not verify");
    free(cs);
    free(p);

    char *jwt = good_rsa();
    char *sig = strrchr(jwt, '.') + 1;
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    fails(jwt, ERR_AUTH, "does not verify");
    jwt = token("ES256", "ec1", good_claims(), ec);
    sig = strrchr(jwt, '.') + 1;
    sig[5] = sig[5] == 'A' ? 'B' : 'A';
    fails(jwt, ERR_AUTH, "does not verify");
    jwt = good_rsa();
    jwt[strlen(jwt) - 4] = '\0'; /* a shorter RSA signature */
    fails(jwt, ERR_AUTH, "signature");
    jwt = token("ES256", "ec1", good_claims(), ec);
    fails(with_part(jwt, 2, "AAAA"), ERR_AUTH, "not 64 bytes");
    fails(with_part(good_rsa(), 2, ""), ERR_AUTH, "signature is empty");
    fails(with_part(good_rsa(), 2, "a+b/"), ERR_AUTH, "not base64url");
}

/* Good claims and a claim of n bytes. */
static json_t *padded(size_t n)
{
    char *pad = xmalloc(n + 1);
    memset(pad, 'x', n);
    pad[n] = '\0';
    json_t *c = with(good_claims(), "pad", json_string(pad));
    free(pad);
    return c;
}

static void test_shape(void)
{
    static const char *const not_three[] = {"abc", "a.b", "a.b.c.d", ".b.c", "a..c", ""};
    static const struct {
        int part;
        const char *text, *why;
    } bad_parts[] = {
        {0, "e30=", "header is not base64url"},
        {0, "bm90IGpzb24", "header is not JSON"},
        {0, "WzFd", "header is not a JSON object"},
        {1, "bm90IGpzb24", "payload is not JSON"},
        {1, "e30", "no iss"}, /* {} */
    };
    for (size_t i = 0; i < sizeof(not_three) / sizeof(not_three[0]); i++)
        fails(xstrdup(not_three[i]), ERR_AUTH, "three base64url parts");
    for (size_t i = 0; i < sizeof(bad_parts) / sizeof(bad_parts[0]); i++)
        fails(with_part(good_rsa(), bad_parts[i].part, bad_parts[i].text), ERR_AUTH,
              bad_parts[i].why);
    /* A repeated claim: which one counts would depend on the parser. */
    fails(compact("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
                  "{\"iss\":\"" GITLAB "\",\"sub\":\"a\",\"sub\":\"b\"}", rsa, false),
          ERR_AUTH, "or repeats a name");
    fails(compact("{\"alg\":\"RS256\",\"alg\":\"none\",\"kid\":\"rsa1\"}", "{}", rsa, false),
          ERR_AUTH, "header is not JSON");
    fails(compact("{\"alg\":\"RS256\",\"kid\":7}", "{}", rsa, false), ERR_AUTH, "kid");

    /* Over 16 KB: refused before anything is decoded. Just under the limit: fine. */
    fails(token("RS256", "rsa1", padded(JWT_MAX_LEN), rsa), ERR_AUTH, "longer than 16384");
    json_t *c = padded(11000);
    char *jwt = token("RS256", "rsa1", c, rsa);
    struct auth_identity id = {0};
    struct err e = {0};
    CHECK(strlen(jwt) < JWT_MAX_LEN);
    CHECK_INT(oidc_authenticate(oidc, jwt, &id, &e), 0);
    free(jwt);
}

/* A claim value and why the placeholder it fills refuses it. */
struct refusal {
    const char *value, *why;
};

/* A user_login claim (a non-path claim) of the given value, mapped by rules[3]. */
static json_t *login(const char *v)
{
    return with(claims_of(GITLAB, "apps/web", NULL), "user_login", json_string(v));
}

static json_t *project(const char *v)
{
    return with(claims_of(GITLAB, "platform/x", "false"), "project_path", json_string(v));
}

static json_t *github(const char *repository, const char *ref)
{
    json_t *c = with(claims_of(GITHUB, NULL, NULL), "repository", json_string(repository));
    return with(c, "ref", json_string(ref));
}

/* The claims rules[2] matches on and, unless NULL, its placeholder's claim environment. */
static json_t *outputs_claims(json_t *project_id, json_t *ci, const char *environment)
{
    json_t *c = with(with(claims_of(GITLAB, "apps/web", NULL), "project_id", project_id), "ci", ci);
    return environment != NULL ? with(c, "environment", json_string(environment)) : c;
}

static void test_rules(void)
{
    struct auth_identity id;
    struct err e;
    /* Rule order: the first match wins (write before plan). */
    CHECK_INT(identify(good_claims(), &id, &e), 0);
    CHECK_INT(id.role, ROLE_WRITE);
    CHECK_INT(identify(claims_of(GITLAB, "platform/net", "false"), &id, &e), 0);
    CHECK_INT(id.role, ROLE_PLAN);
    /* '*' stays within a segment. */
    identify_fails(claims_of(GITLAB, "platform/net/sub", "true"), ERR_FORBIDDEN,
                   "no rule matched (rules[0]: claim project_path does not match; rules[1]: "
                   "claim project_path does not match; rules[2]: claim project_id is missing; "
                   "rules[3]: claim user_login is missing)");
    /* Numbers and booleans compare as their JSON text: 42 and true. */
    CHECK_INT(identify(outputs_claims(json_integer(42), json_true(), "prod"), &id, &e), 0);
    CHECK_INT(id.role, ROLE_OUTPUTS);
    CHECK_STR(id.name, "outputs:42");
    CHECK_STR(id.pattern, "shared/prod/*");
    CHECK(auth_allows(&id, AUTH_READ_OUTPUTS, "shared/prod/net"));
    CHECK(!auth_allows(&id, AUTH_READ, "shared/prod/net"));
    CHECK_INT(identify(outputs_claims(json_string("42"), json_string("true"), "prod"), &id, &e), 0);
    identify_fails(outputs_claims(json_integer(43), json_true(), "prod"), ERR_FORBIDDEN,
                   "rules[2]: claim project_id does not match");
    /* A missing claim never matches, not even "**"; null, arrays and objects neither. */
    identify_fails(claims_of(GITLAB, "apps/web", NULL), ERR_FORBIDDEN,
                   "rules[3]: claim user_login is missing");
    identify_fails(with(claims_of(GITLAB, "apps/web", NULL), "user_login", json_null()),
                   ERR_FORBIDDEN, "rules[3]: claim user_login is missing");
    identify_fails(with(claims_of(GITLAB, "apps/web", NULL), "user_login", json_pack("[s]", "a")),
                   ERR_FORBIDDEN, "rules[3]: claim user_login is missing");
    CHECK_INT(identify(login("alice"), &id, &e), 0);
    CHECK_STR(id.name, "user:alice");
    CHECK_STR(id.pattern, "u/alice/*");
    CHECK_INT(id.role, ROLE_READ);
    /* "**" crosses segments; the issuer's own path_claims include ref. */
    CHECK_INT(identify(github("octo/infra", "refs/heads/main"), &id, &e), 0);
    CHECK_STR(id.name, "github:octo/infra:refs/heads/main");
    CHECK_STR(id.pattern, "gh/octo/infra/*");
    CHECK_INT(id.role, ROLE_ADMIN);
    CHECK_STR(id.issuer, GITHUB);
}

static void test_placeholders(void)
{
    /* rules[3] matches any login, so what is checked is the value in the placeholder. */
    static const struct refusal logins[] = {
        {"..", "claim user_login contains '..'"},
        {"a..b", "contains '..'"},
        {"*", "contains '*'"},
        {"a*", "contains '*'"},
        {"a/b", "contains '/' (and is not one of the issuer"},
        {"a b", "contains a space"},
        {"a\xc3\xa9", "outside A-Z"},
        {"{x}", "outside A-Z"},
        {".", "'.'"},
        {"", "is empty"},
    };
    for (size_t i = 0; i < sizeof(logins) / sizeof(logins[0]); i++)
        identify_fails(login(logins[i].value), ERR_FORBIDDEN, logins[i].why);
    char long_login[200];
    memset(long_login, 'a', 150);
    long_login[150] = '\0';
    identify_fails(login(long_login), ERR_FORBIDDEN, "over 128");
    /* A rule's placeholder whose claim is absent or not a scalar. */
    identify_fails(outputs_claims(json_integer(42), json_true(), NULL), ERR_FORBIDDEN,
                   "claim environment is missing");
    json_t *c = with(outputs_claims(json_integer(42), json_true(), NULL), "environment",
                     json_pack("{s:s}", "a", "b"));
    identify_fails(c, ERR_FORBIDDEN, "environment is missing or not a string");

    /* Path claims: each segment is checked. The pattern platform/<star> admits these values
     * (rules[1]); the placeholder then refuses them. */
    struct auth_identity id;
    struct err e;
    CHECK_INT(identify(project("platform/a.b-c_d"), &id, &e), 0);
    CHECK_STR(id.pattern, "platform/a.b-c_d/**");
    static const struct refusal paths[] = {
        {"platform/..", "contains '..'"}, {"platform/.", "'.'"},  {"platform/", "empty segment"},
        {"platform/a b", "space"},        {"platform/**", "'*'"},
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        identify_fails(project(paths[i].value), ERR_FORBIDDEN, paths[i].why);
    static const struct refusal repos[] = {
        {"octo//x", "empty segment"},
        {"octo/a/b/c/d/e/f/g/h", "more than 8 segments"},
        {"octo/../../etc", "'..'"},
    };
    for (size_t i = 0; i < sizeof(repos) / sizeof(repos[0]); i++)
        identify_fails(github(repos[i].value, "main"), ERR_FORBIDDEN, repos[i].why);
    /* A name that the claims make too long is refused, not cut. */
    memset(long_login, 'a', 120);
    long_login[120] = '\0';
    char *repo = xasprintf("octo/%s", long_login);
    c = github(repo, "main");
    free(repo);
    identify_fails(c, ERR_FORBIDDEN, "too long");
}

/* Loads text and returns the error message ("" when it loaded). */
static const char *load_error(const char *text, struct err *e)
{
    err_clear(e);
    struct oidc *o = oidc_load_text("oidc.json", text, strlen(text), e);
    if (o != NULL) {
        oidc_free(o);
        return "";
    }
    return e->code == ERR_INVALID ? e->msg : "(not ERR_INVALID)";
}

static void config_fails(const char *issuer_json, const char *needle)
{
    struct err e;
    char *text = xasprintf("{\"issuers\": [%s]}", issuer_json);
    const char *msg = load_error(text, &e);
    if (!CHECK(strstr(msg, needle) != NULL))
        printf("  message: %s (wanted \"%s\")\n", msg, needle);
    free(text);
}

#define RULE "\"rules\": [{\"role\": \"read\", \"states\": \"**\", \"name\": \"n\"}]"

static void config_loads(const char *issuer_url)
{
    struct err e;
    char *text = xasprintf("{\"issuers\": [{\"issuer\": \"%s\", \"audience\": \"a\", " RULE "}]}",
                           issuer_url);
    if (!CHECK_STR(load_error(text, &e), ""))
        printf("  issuer: %s\n", issuer_url);
    free(text);
}

static void test_config(void)
{
    config_loads("https://gitlab.example.com");
    config_loads("https://gitlab.example.com/");
    config_loads("https://example.com:8443/oidc");
    config_loads("http://127.0.0.1:8080");
    config_loads("http://127.9.8.7");
    config_loads("http://localhost:1234");
    config_loads("http://[::1]:5556");
    config_fails("{\"issuer\": \"http://gitlab.example.com\", \"audience\": \"a\", " RULE "}",
                 "oidc.json: $.issuers[0].issuer: must be https (http only on a loopback host");
    config_fails("{\"issuer\": \"http://10.0.0.1\", \"audience\": \"a\", " RULE "}",
                 "$.issuers[0].issuer: must be https");
    config_fails("{\"issuer\": \"http://[::2]\", \"audience\": \"a\", " RULE "}",
                 "$.issuers[0].issuer: must be https");
    config_fails("{\"issuer\": \"http://127.0.0.1.example.com\", \"audience\": \"a\", " RULE "}",
                 "must be https");
    config_fails("{\"issuer\": \"ftp://127.0.0.1\", \"audience\": \"a\", " RULE "}",
                 "$.issuers[0].issuer:");
    config_fails("{\"issuer\": \"https://u:p@example.com\", \"audience\": \"a\", " RULE "}",
                 "user name or password");
    config_fails("{\"issuer\": \"https://example.com/?x=1\", \"audience\": \"a\", " RULE "}",
                 "query or a fragment");
    config_fails("{\"issuer\": \"gitlab.example.com\", \"audience\": \"a\", " RULE "}",
                 "not an absolute URL");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\", \"rules\": "
                 "[{\"role\": \"writer\", \"states\": \"**\", \"name\": \"n\"}]}",
                 "$.issuers[0].rules[0].role: not a role (read, plan, write, admin, outputs");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\", \"colour\": 1, " RULE
                 "}",
                 "$.issuers[0].colour: unknown key");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audiance\": \"a\", " RULE "}",
                 "$.issuers[0].audiance: unknown key (did you mean \"audience\"?)");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\", \"rules\": "
                 "[{\"role\": \"read\", \"states\": \"**\", \"name\": \"n\", \"when\": 1}]}",
                 "$.issuers[0].rules[0].when: unknown key");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\", \"rules\": "
                 "[{\"role\": \"read\", \"states\": \"a b\", \"name\": \"n\"}]}",
                 "$.issuers[0].rules[0].states: a character a state pattern cannot hold");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\", \"rules\": "
                 "[{\"role\": \"read\", \"states\": \"{x\", \"name\": \"n\"}]}",
                 "rules[0].states: a '{' without");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\", \"rules\": "
                 "[{\"role\": \"read\", \"states\": \"x}\", \"name\": \"n\"}]}",
                 "a '}' without its '{'");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\", \"rules\": "
                 "[{\"role\": \"read\", \"states\": \"**\", \"name\": \"a {b}\"}]}",
                 "rules[0].name: a space");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\", \"rules\": "
                 "[{\"claims\": {\"x\": [1]}, \"role\": \"read\", \"states\": \"**\", "
                 "\"name\": \"n\"}]}",
                 "$.issuers[0].rules[0].claims.x: not a claim name with a string");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\", \"rules\": []}",
                 "$.issuers[0].rules: not a non-empty array");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\"}",
                 "$.issuers[0].rules: missing");
    config_fails("{\"issuer\": \"https://a.example.com\", " RULE "}",
                 "$.issuers[0].audience: missing");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\", "
                 "\"path_claims\": [\"p\", 3], " RULE "}",
                 "$.issuers[0].path_claims[1]: not a claim name");
    config_fails("{\"issuer\": \"https://a.example.com\", \"audience\": \"a\", " RULE "}, "
                 "{\"issuer\": \"https://a.example.com\", \"audience\": \"b\", " RULE "}",
                 "$.issuers[1].issuer: the same issuer as $.issuers[0]");
    config_fails("7", "$.issuers[0]: not an object");
    /* Every problem at once: the first in the message, all of them counted (and logged). */
    config_fails("{\"issuer\": \"http://a.example.com\", \"audience\": \"\", \"rules\": "
                 "[{\"role\": \"root\", \"states\": \"**\"}]}",
                 "oidc.json: 4 problems (each is logged), the first: $.issuers[0].issuer");

    struct err e;
    CHECK(strstr(load_error("{\"issuers\": []}", &e), "$.issuers: not a non-empty array"));
    CHECK(strstr(load_error("{\"issuer\": []}", &e),
                 "$.issuer: unknown key (did you mean \"issuers\"?)"));
    CHECK(strstr(load_error("[]", &e), "$: not an object"));
    CHECK(strstr(load_error("{\"issuers\": [", &e), "oidc.json line 1"));
    CHECK(strstr(load_error("{\"issuers\": [], \"issuers\": []}", &e), "duplicate"));
    err_clear(&e);
    CHECK(oidc_load("/nonexistent/oidc.json", &e) == NULL);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK(strstr(e.msg, "/nonexistent/oidc.json") != NULL);
    oidc_free(NULL);
}

static void test_config_file(void)
{
    char *path = xasprintf("%s/oidc.json", t_tempdir());
    FILE *f = fopen(path, "w");
    fputs(CONFIG, f);
    fclose(f);
    struct err e = {0};
    struct oidc *o = oidc_load(path, &e);
    CHECK(o != NULL);
    oidc_free(o);
    free(path);
}

static char *jwks_text(EVP_PKEY *k, const char *kid, const char *member, json_t *value)
{
    json_t *j = jwk_of(k, kid);
    if (member != NULL)
        json_object_set_new(j, member, value);
    return jwks_of(json_pack("[o]", j));
}

static void jwks_fails(char *doc, const char *needle)
{
    struct jwk *keys = NULL;
    size_t n = 9;
    struct err e = {0};
    CHECK_INT(jwks_parse(doc, strlen(doc), &keys, &n, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK(strstr(e.msg, needle) != NULL);
    CHECK(keys == NULL && n == 0);
    free(doc);
}

static void jwk_fails(json_t *jwk, const char *needle)
{
    struct jwk k;
    struct err e = {0};
    if (!(CHECK_INT(jwk_parse(jwk, &k, &e), -1) && CHECK(strstr(e.msg, needle) != NULL)))
        printf("  message: %s (wanted \"%s\")\n", e.msg, needle);
    CHECK(k.pkey == NULL);
    json_decref(jwk);
}

static json_t *jwk_with(EVP_PKEY *k, const char *member, json_t *value)
{
    json_t *j = jwk_of(k, "k");
    if (value != NULL)
        json_object_set_new(j, member, value);
    else
        json_object_del(j, member);
    return j;
}

static void test_jwks(void)
{
    jwks_fails(xstrdup("{}"), "not a JSON object with a \"keys\" array");
    jwks_fails(xstrdup("not json"), "not a JSON object");
    jwks_fails(xstrdup("{\"keys\": [{\"kty\": \"oct\", \"kid\": \"h\", \"k\": \"c2VjcmV0\"}]}"),
               "no usable RS256 or ES256 key");
    jwks_fails(jwks_text(rsa_small, "small", NULL, NULL), "no usable");
    jwk_fails(jwk_with(rsa_small, "kid", json_string("s")), "under 2048 or over 8192 bits");
    unsigned char big[1100];
    memset(big, 0xff, sizeof(big));
    char *huge = b64url(big, sizeof(big));
    jwk_fails(jwk_with(rsa, "n", json_string(huge)), "under 2048 or over 8192 bits");
    free(huge);
    jwk_fails(jwk_with(rsa, "use", json_string("enc")), "not for RS256 signatures");
    jwk_fails(jwk_with(rsa, "alg", json_string("RS512")), "not for RS256");
    jwk_fails(jwk_with(ec, "alg", json_string("RS256")), "not for ES256");
    jwk_fails(jwk_with(ec, "crv", json_string("P-384")), "not on P-256");
    jwk_fails(jwk_with(ec, "x", json_string("AAAA")), "not 32 bytes");
    jwk_fails(jwk_with(ec, "x", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
              "not a point on P-256");
    jwk_fails(jwk_with(rsa, "n", NULL), "n or e is missing");
    jwk_fails(jwk_with(rsa, "kid", NULL), "without a usable kid");
    jwk_fails(jwk_with(rsa, "kty", json_string("OKP")), "kty is not RSA or EC");

    /* The first key of a kid wins; unusable keys are skipped. */
    json_t *arr =
        json_pack("[o,o,o]", jwk_of(ec, "same"), jwk_of(rsa, "same"), jwk_of(rsa_small, "small"));
    char *doc = jwks_of(arr);
    struct jwk *keys;
    size_t n;
    struct err e = {0};
    CHECK_INT(jwks_parse(doc, strlen(doc), &keys, &n, &e), 0);
    CHECK_INT(n, 1);
    CHECK_INT(keys[0].alg, JWT_ES256);
    jwks_free(keys, n);
    free(doc);
}

static void test_claim_text(void)
{
    char buf[JWT_SCALAR_MAX];
    json_t *c = json_pack("{s:s,s:i,s:b,s:b,s:f,s:n,s:[]}", "s", "x", "i", -7, "t", 1, "f", 0, "r",
                          1.5, "null", "a");
    CHECK_STR(jwt_claim_text(c, "s", buf), "x");
    CHECK_STR(jwt_claim_text(c, "i", buf), "-7");
    CHECK_STR(jwt_claim_text(c, "t", buf), "true");
    CHECK_STR(jwt_claim_text(c, "f", buf), "false");
    CHECK_STR(jwt_claim_text(c, "r", buf), "1.5");
    CHECK(jwt_claim_text(c, "null", buf) == NULL);
    CHECK(jwt_claim_text(c, "a", buf) == NULL);
    CHECK(jwt_claim_text(c, "missing", buf) == NULL);
    json_decref(c);
}

/* Workers authenticate concurrently while the keys are replaced under them. */
static void *auth_loop(void *arg)
{
    const char *jwt = arg;
    long ok = 0;
    for (int i = 0; i < 40; i++) {
        struct auth_identity id = {0};
        struct err e = {0};
        ok += oidc_authenticate(oidc, jwt, &id, &e) == 0 && strcmp(id.name, "") != 0;
    }
    return (void *)ok;
}

static void test_concurrent(void)
{
    char *jwts[2] = {good_rsa(), token("ES256", "ec1", good_claims(), ec)};
    char *doc = jwks_of(json_pack("[o,o]", jwk_of(rsa, "rsa1"), jwk_of(ec, "ec1")));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, auth_loop, jwts[i % 2]);
    struct err e = {0};
    for (int i = 0; i < 20; i++)
        CHECK_INT(oidc_set_keys(oidc, GITLAB, doc, strlen(doc), &e), 0);
    for (int i = 0; i < 4; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        CHECK_INT((long)ok, 40);
    }
    free(doc);
    free(jwts[0]);
    free(jwts[1]);
}

static void setup(void)
{
    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct err e = {0};
    oidc = oidc_load_text("test", CONFIG, strlen(CONFIG), &e);
    if (oidc == NULL) {
        printf("config: %s\n", e.msg);
        exit(1);
    }
    char *doc = jwks_of(json_pack("[o,o]", jwk_of(rsa, "rsa1"), jwk_of(ec, "ec1")));
    oidc_set_keys(oidc, GITLAB, doc, strlen(doc), &e);
    free(doc);
    /* GitHub's issuer knows only a key of its own under the same kid. */
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    doc = jwks_of(json_pack("[o]", jwk_of(other, "ec9")));
    oidc_set_keys(oidc, GITHUB, doc, strlen(doc), &e);
    free(doc);
    EVP_PKEY_free(other);
}

int main(void)
{
    setup();
    RUN(test_b64url);
    RUN(test_is_jwt);
    RUN(test_good_tokens);
    RUN(test_claims_refused);
    RUN(test_claims_accepted);
    RUN(test_keys);
    RUN(test_algs);
    RUN(test_tampered);
    RUN(test_shape);
    RUN(test_rules);
    RUN(test_placeholders);
    RUN(test_config);
    RUN(test_config_file);
    RUN(test_jwks);
    RUN(test_claim_text);
    RUN(test_concurrent);
    oidc_free(oidc);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa_small);
    EVP_PKEY_free(ec);
    return t_report();
}
