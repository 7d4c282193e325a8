/* auth/jwt.c: compact JWS parsing and RS256/ES256 verification with OpenSSL 3 EVP, and JWKs.
 *
 * What this file refuses, and why:
 *   - every alg but RS256 and ES256. "none" would let anyone write claims; HS256 with a public
 *     key as the HMAC secret is the classic algorithm-confusion forgery (the attacker knows the
 *     "secret"), so no shared-secret algorithm is accepted at all. The alg must also be the
 *     key's own: an RSA key verifies only RS256, a P-256 key only ES256.
 *   - headers that would make us trust the token about its own key (jwk, jku, x5u, x5c are
 *     ignored: keys only ever come from the issuer's JWKS) or that we cannot honour (crit).
 *   - duplicate member names in the header or the claims: parsers disagree on which one wins,
 *     so a token could mean one thing to its issuer and another to us.
 *   - non-canonical base64url: a value has exactly one encoding, so a signature cannot be
 *     "varied" into another accepted string.
 * Nothing here is secret: signatures are checked with public keys, so there is no secret to
 * leak through comparison timing; EVP does the comparing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "auth/auth_int.h"
#include "common/log.h"
#include "common/util.h"

#define RSA_MIN_BITS  2048
#define RSA_MAX_BITS  8192 /* bounds the cost of one verification */
#define JWKS_MAX_KEYS 100

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(char c)
{
    const char *p = c != '\0' ? memchr(B64URL, c, 64) : NULL;
    return p != NULL ? (int)(p - B64URL) : -1;
}

bool jwt_is_b64url(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b64url_value(s[i]) < 0)
            return false;
    return n > 0;
}

int jwt_b64url_decode(const char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    /* base64url is base64 with '-' and '_' for '+' and '/' (common/util.h decodes it once
     * translated), minus the leniency: no '=' and no '+' or '/' here, and the low bits of the
     * last character that no byte uses must be zero. */
    if (inlen == 0) {
        *outlen = 0;
        return 0;
    }
    if (inlen % 4 == 1 || !jwt_is_b64url(in, inlen))
        return -1;
    int unused_bits = inlen % 4 == 2 ? 4 : inlen % 4 == 3 ? 2 : 0;
    if ((b64url_value(in[inlen - 1]) & ((1 << unused_bits) - 1)) != 0)
        return -1;
    char *std = xmalloc(inlen);
    for (size_t i = 0; i < inlen; i++)
        std[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    int rc = base64_decode(std, inlen, out, outlen);
    free(std);
    return rc;
}

const char *jwt_shown(const char *s, char out[JWT_SHOWN_MAX])
{
    size_t i = 0;
    for (; s != NULL && s[i] != '\0' && i < JWT_SHOWN_MAX - 1; i++)
        out[i] = s[i] > ' ' && s[i] < 127 ? s[i] : '?';
    out[i] = '\0';
    return out;
}

/* Decodes one base64url part into a JSON object. */
static json_t *decode_object(const char *s, size_t n, const char *what, struct err *err)
{
    size_t dlen = n / 4 * 3 + 3;
    unsigned char *d = xmalloc(dlen);
    json_t *v = NULL;
    if (jwt_b64url_decode(s, n, d, &dlen) != 0)
        err_set(err, ERR_AUTH, "JWT %s is not base64url", what);
    else if ((v = json_loadb((const char *)d, dlen, JSON_REJECT_DUPLICATES, NULL)) == NULL)
        /* jansson's text would quote the token */
        err_set(err, ERR_AUTH, "JWT %s is not JSON, or repeats a name", what);
    else if (!json_is_object(v)) {
        err_set(err, ERR_AUTH, "JWT %s is not a JSON object", what);
        json_decref(v);
        v = NULL;
    }
    free(d);
    return v;
}

static int parse_alg(const json_t *header, enum jwt_alg *alg, struct err *err)
{
    const char *a = json_string_value(json_object_get(header, "alg"));
    char buf[JWT_SHOWN_MAX];
    if (a == NULL)
        return err_set(err, ERR_AUTH, "JWT header has no alg");
    if (strcmp(a, "RS256") == 0)
        *alg = JWT_RS256;
    else if (strcmp(a, "ES256") == 0)
        *alg = JWT_ES256;
    else if (strcmp(a, "none") == 0)
        return err_set(err, ERR_AUTH, "JWT alg none: unsigned tokens are refused");
    else if (strncmp(a, "HS", 2) == 0)
        return err_set(err, ERR_AUTH,
                       "JWT alg %s: shared-secret tokens are refused "
                       "(RS256 or ES256 only)",
                       jwt_shown(a, buf));
    else
        return err_set(err, ERR_AUTH, "JWT alg %s is not accepted (RS256 or ES256 only)",
                       jwt_shown(a, buf));
    return 0;
}

static int parse_header(struct jwt *j, struct err *err)
{
    if (parse_alg(j->header, &j->alg, err) != 0)
        return -1;
    if (json_object_get(j->header, "crit") != NULL)
        return err_set(err, ERR_AUTH, "JWT header has crit: no extension is supported");
    const json_t *kid = json_object_get(j->header, "kid");
    if (kid == NULL)
        return 0;
    const char *k = json_string_value(kid);
    if (k == NULL || k[0] == '\0' || strlen(k) >= sizeof(j->kid))
        return err_set(err, ERR_AUTH, "JWT kid is not a string of 1-%d bytes", JWT_KID_MAX - 1);
    snprintf(j->kid, sizeof(j->kid), "%s", k);
    return 0;
}

int jwt_parse(const char *compact, struct jwt *j, struct err *err)
{
    memset(j, 0, sizeof(*j));
    size_t len = strnlen(compact, JWT_MAX_LEN + 1);
    if (len > JWT_MAX_LEN)
        return err_set(err, ERR_AUTH, "JWT longer than %d bytes", JWT_MAX_LEN);
    const char *d1 = memchr(compact, '.', len);
    const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - compact)) : NULL;
    const char *end = compact + len;
    if (d2 == NULL || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL || d1 == compact ||
        d2 == d1 + 1)
        return err_set(err, ERR_AUTH, "JWT is not three base64url parts joined by '.'");
    j->header = decode_object(compact, (size_t)(d1 - compact), "header", err);
    if (j->header == NULL || parse_header(j, err) != 0)
        return -1;
    j->claims = decode_object(d1 + 1, (size_t)(d2 - d1 - 1), "payload", err);
    if (j->claims == NULL)
        return -1;
    size_t slen = (size_t)(end - d2 - 1);
    j->sig_len = slen / 4 * 3 + 3;
    j->sig = xmalloc(j->sig_len);
    if (slen == 0 || jwt_b64url_decode(d2 + 1, slen, j->sig, &j->sig_len) != 0)
        return err_set(err, ERR_AUTH, "JWT signature is empty or not base64url");
    j->signed_len = (size_t)(d2 - compact);
    j->signed_part = xstrndup(compact, j->signed_len);
    return 0;
}

void jwt_cleanup(struct jwt *j)
{
    json_decref(j->header);
    json_decref(j->claims);
    free(j->signed_part);
    free(j->sig);
    memset(j, 0, sizeof(*j));
}

static const char *alg_name(enum jwt_alg a)
{
    return a == JWT_RS256 ? "RS256" : a == JWT_ES256 ? "ES256" : "none";
}

/* ES256 signatures are R || S, 32 bytes each (RFC 7518 §3.4); EVP wants the DER of
 * ECDSA-Sig-Value. */
static int ecdsa_der(const unsigned char *rs, size_t n, unsigned char *der, size_t *derlen)
{
    if (n != 64)
        return -1;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    int rc = -1;
    if (sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL; /* owned by sig now */
        int len = i2d_ECDSA_SIG(sig, NULL);
        if (len > 0 && (size_t)len <= *derlen) {
            *derlen = (size_t)i2d_ECDSA_SIG(sig, &der);
            rc = 0;
        }
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return rc;
}

static bool evp_verify(EVP_PKEY *pkey, enum jwt_alg alg, const unsigned char *sig, size_t siglen,
                       const char *data, size_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = ctx != NULL &&
              EVP_DigestVerifyInit_ex(ctx, &pctx, "SHA256", NULL, NULL, pkey, NULL) == 1 &&
              (alg != JWT_RS256 || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1) &&
              EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data, len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error(); /* a failed check leaves entries in this thread's queue */
    return ok;
}

int jwt_verify(const struct jwt *j, const struct jwk *key, struct err *err)
{
    char kid[JWT_SHOWN_MAX];
    if (j->alg != key->alg)
        return err_set(err, ERR_AUTH, "JWT alg %s does not fit key %s (an %s key)",
                       alg_name(j->alg), jwt_shown(key->kid, kid), alg_name(key->alg));
    unsigned char der[80];
    const unsigned char *sig = j->sig;
    size_t siglen = j->sig_len;
    if (j->alg == JWT_ES256) {
        siglen = sizeof(der);
        if (ecdsa_der(j->sig, j->sig_len, der, &siglen) != 0)
            return err_set(err, ERR_AUTH, "JWT ES256 signature is not 64 bytes");
        sig = der;
    } else if ((int)j->sig_len != EVP_PKEY_get_size(key->pkey)) {
        return err_set(err, ERR_AUTH, "JWT RS256 signature length does not fit key %s",
                       jwt_shown(key->kid, kid));
    }
    if (!evp_verify(key->pkey, j->alg, sig, siglen, j->signed_part, j->signed_len))
        return err_set(err, ERR_AUTH, "JWT signature does not verify with key %s",
                       jwt_shown(key->kid, kid));
    return 0;
}

/* A NumericDate claim (seconds since the epoch, RFC 7519 §2). 1 when absent. */
static int time_claim(const json_t *claims, const char *name, int64_t *out, struct err *err)
{
    const json_t *v = json_object_get(claims, name);
    if (v == NULL)
        return 1;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    double d = json_real_value(v);
    if (!json_is_real(v) || !isfinite(d))
        return err_set(err, ERR_AUTH, "JWT %s is not a number", name);
    *out = d >= 9e18 ? INT64_MAX : d <= -9e18 ? INT64_MIN : (int64_t)d;
    return 0;
}

int jwt_check_times(const json_t *claims, int64_t now_s, struct err *err)
{
    /* now_s is a sane clock reading, so the leeway is added to it, never to a claim (which may
     * be anything up to INT64_MAX). */
    int64_t exp = 0, iat = 0, nbf = 0;
    int r;
    if ((r = time_claim(claims, "exp", &exp, err)) != 0)
        return r < 0 ? -1 : err_set(err, ERR_AUTH, "JWT has no exp");
    if (now_s - JWT_LEEWAY_S >= exp)
        return err_set(err, ERR_AUTH, "JWT expired (exp is %.0f s ago)",
                       (double)now_s - (double)exp); /* exp may be INT64_MIN */
    if ((r = time_claim(claims, "iat", &iat, err)) != 0)
        return r < 0 ? -1 : err_set(err, ERR_AUTH, "JWT has no iat");
    if (iat > now_s + JWT_LEEWAY_S)
        return err_set(err, ERR_AUTH, "JWT issued in the future (iat is over %d s ahead)",
                       JWT_LEEWAY_S);
    if ((r = time_claim(claims, "nbf", &nbf, err)) < 0)
        return -1;
    if (r == 0 && nbf > now_s + JWT_LEEWAY_S)
        return err_set(err, ERR_AUTH, "JWT not valid yet (nbf is over %d s ahead)", JWT_LEEWAY_S);
    return 0;
}

int jwt_check_audience(const json_t *claims, const char *audience, struct err *err)
{
    const json_t *aud = json_object_get(claims, "aud");
    const char *s = json_string_value(aud);
    if (s != NULL && strcmp(s, audience) == 0)
        return 0;
    size_t i;
    const json_t *v;
    json_array_foreach(aud, i, v)
    {
        s = json_string_value(v);
        if (s != NULL && strcmp(s, audience) == 0)
            return 0;
    }
    return err_set(err, ERR_AUTH, "JWT aud does not name \"%s\" (set the token's audience)",
                   audience);
}

const char *jwt_claim_text(const json_t *claims, const char *name, char buf[JWT_SCALAR_MAX])
{
    const json_t *v = json_object_get(claims, name);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, JWT_SCALAR_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, JWT_SCALAR_MAX, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, JWT_SCALAR_MAX, "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    return buf;
}

/* ------------------------------------------------------------------ JWK */

/* A base64url member of a JWK, decoded into out (at most *len bytes). */
static int b64_member(const json_t *jwk, const char *name, unsigned char *out, size_t *len)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    if (s == NULL || jwt_b64url_decode(s, strlen(s), out, len) != 0 || *len == 0)
        return -1;
    return 0;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    if (pkey == NULL)
        return NULL;
    /* fromdata takes the numbers as given; an EC point must also be on the curve. */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *rsa_key(const json_t *jwk, const char **why)
{
    unsigned char n[RSA_MAX_BITS / 4], e[16]; /* room to say that n is too large */
    size_t nlen = sizeof(n), elen = sizeof(e);
    if (b64_member(jwk, "n", n, &nlen) != 0 || b64_member(jwk, "e", e, &elen) != 0) {
        *why = "n or e is missing or not base64url";
        return NULL;
    }
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;
    *why = "n and e do not make an RSA public key";
    if (bn != NULL && (BN_num_bits(bn) < RSA_MIN_BITS || BN_num_bits(bn) > RSA_MAX_BITS))
        *why = "RSA key under 2048 or over 8192 bits";
    else if (bn != NULL && be != NULL && bld != NULL &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1 &&
             (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
        pkey = pkey_fromdata("RSA", params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

static EVP_PKEY *ec_key(const json_t *jwk, const char **why)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    unsigned char point[65] = {0x04}; /* uncompressed: 04 || x || y */
    size_t xlen = 32, ylen = 32;
    if (crv == NULL || strcmp(crv, "P-256") != 0) {
        *why = "EC key not on P-256";
        return NULL;
    }
    if (b64_member(jwk, "x", point + 1, &xlen) != 0 ||
        b64_member(jwk, "y", point + 33, &ylen) != 0 || xlen != 32 || ylen != 32) {
        *why = "x or y is not 32 bytes of base64url";
        return NULL;
    }
    char group[] = "P-256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
        OSSL_PARAM_construct_end(),
    };
    *why = "x and y are not a point on P-256";
    return pkey_fromdata("EC", params);
}

int jwk_parse(const json_t *jwk, struct jwk *out, struct err *err)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const char *alg = json_string_value(json_object_get(jwk, "alg"));
    const char *why = NULL;
    char buf[JWT_SHOWN_MAX];
    memset(out, 0, sizeof(*out));
    if (kid == NULL || kid[0] == '\0' || strlen(kid) >= sizeof(out->kid))
        return err_set(err, ERR_INVALID, "a key without a usable kid");
    snprintf(out->kid, sizeof(out->kid), "%s", kid);
    if (kty != NULL && strcmp(kty, "RSA") == 0)
        out->alg = JWT_RS256;
    else if (kty != NULL && strcmp(kty, "EC") == 0)
        out->alg = JWT_ES256;
    else
        return err_set(err, ERR_INVALID, "key %s: kty is not RSA or EC", jwt_shown(kid, buf));
    if ((use != NULL && strcmp(use, "sig") != 0) ||
        (alg != NULL && strcmp(alg, alg_name(out->alg)) != 0))
        return err_set(err, ERR_INVALID, "key %s: not for %s signatures", jwt_shown(kid, buf),
                       alg_name(out->alg));
    out->pkey = out->alg == JWT_RS256 ? rsa_key(jwk, &why) : ec_key(jwk, &why);
    ERR_clear_error();
    if (out->pkey == NULL)
        return err_set(err, ERR_INVALID, "key %s: %s", jwt_shown(kid, buf), why);
    return 0;
}

void jwk_cleanup(struct jwk *k)
{
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof(*k));
}

static bool have_kid(const struct jwk *keys, size_t n, const char *kid)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].kid, kid) == 0)
            return true;
    return false;
}

int jwks_parse(const char *doc, size_t len, struct jwk **keys, size_t *n, struct err *err)
{
    json_t *root = json_loadb(doc, len, 0, NULL);
    json_t *arr = json_object_get(root, "keys");
    *keys = NULL;
    *n = 0;
    if (!json_is_array(arr)) {
        json_decref(root);
        return err_set(err, ERR_INVALID, "the JWKS is not a JSON object with a \"keys\" array");
    }
    *keys = xcalloc(json_array_size(arr) + 1, sizeof(**keys));
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        struct err ke = {0};
        struct jwk *k = &(*keys)[*n];
        if (*n == JWKS_MAX_KEYS)
            break;
        if (jwk_parse(v, k, &ke) != 0 || have_kid(*keys, *n, k->kid)) {
            log_debug("oidc: JWKS key skipped: %s", ke.code != ERR_OK ? ke.msg : "kid repeated");
            jwk_cleanup(k);
            continue;
        }
        (*n)++;
    }
    json_decref(root);
    if (*n > 0)
        return 0;
    jwks_free(*keys, 0);
    *keys = NULL;
    return err_set(err, ERR_INVALID, "the JWKS has no usable RS256 or ES256 key");
}

void jwks_free(struct jwk *keys, size_t n)
{
    for (size_t i = 0; keys != NULL && i < n; i++)
        jwk_cleanup(&keys[i]);
    free(keys);
}
