/* tests/fuzz/fuzz_jwt.c: what a JWT credential goes through before and after its signature:
 * the shape test (oidc_is_jwt), JWS parsing (jwt_parse), RS256/ES256 verification against
 * fixed keys, and the claims checks and rules (oidc_identify) with placeholders and path
 * claims. An input starting with '{' is also taken as a claims object and as a JWKS document,
 * so the claims checks are reached without base64. None may crash, read out of bounds, accept
 * a token the rules refuse, or fail without saying why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000 /* the seeds' tokens are valid then */

static const char CONFIG[] =
    "{\"issuers\": [{\"issuer\": \"https://issuer.example\", \"audience\": \"stated\","
    " \"path_claims\": [\"project_path\"], \"rules\": ["
    "  {\"claims\": {\"project_path\": \"platform/**\", \"ref_protected\": \"true\"},"
    "   \"role\": \"write\", \"states\": \"{project_path}/**\","
    "   \"name\": \"gitlab:{project_path}@{ref}\"},"
    "  {\"claims\": {\"n\": 42, \"b\": true, \"env\": \"p*\"}, \"role\": \"outputs\","
    "   \"states\": \"shared/{env}/*\", \"name\": \"o:{n}:{b}\"},"
    "  {\"role\": \"read\", \"states\": \"u/{sub}\", \"name\": \"u:{sub}\"}]}]}";

/* Public keys r1 (RSA 2048) and e1 (P-256) of the seeds' tokens. */
static const char JWKS[] =
    "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"e1\",\"use\":\"sig\",\"alg\":\"ES256\",\"crv\":\"P-"
    "256\",\"x\":\"u56Qt-ZmQZCEf4Df7gpOoF2ftzNqvs77ndJI8Juhby8\",\"y\":\"5Vdqqt_oYMUngObldCzX"
    "qoazK7OCOESKIYQ1aCgB7fI\"},{\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"alg\":\"RS2"
    "56\",\"n\":\"jBhbfB5qle7BVw4A9ACS6klenD4f3wFNVMkuadaDWSCHDMPOUWekI4RSndV5FvNkG9jEnDok-Wd"
    "5abXY4BNqIzyGgtYG2Ll6lh_-ngjYiQUtV9Ydq0cN6TaxkHhl2kHfNj5uwzVQyKtgPmh0Bzut_EeNijKapCZeuU_"
    "aJr3Vv3FSYvFQNViBYCni4wlqru3zyihc4C-H7N_6I6yZlHX9kO5BE_4GhCeI-11loeL1vmY5h9BjaHe6Y2htsNP"
    "rZxad-dFz0q4AoIBJjzNDLuYMjywez0EvzhFU6FQhdX8oKiuXarVifxCetNcR1eaML5FQR8VbnRzgLyxk5VPQ9iE"
    "2yQ\",\"e\":\"AQAB\"}]}";

static struct oidc *oidc;
static struct jwk *keys;
static size_t nkeys;

static void setup(void)
{
    struct err e = {0};
    oidc = oidc_load_text("fuzz", CONFIG, strlen(CONFIG), &e);
    if (oidc == NULL || jwks_parse(JWKS, strlen(JWKS), &keys, &nkeys, &e) != 0 || nkeys != 2 ||
        oidc_set_keys(oidc, "https://issuer.example", JWKS, strlen(JWKS), &e) != 0)
        abort();
}

/* A placeholder's value can never widen the pattern: only the template's globs remain. */
static void check_identity(const struct auth_identity *id)
{
    const char *p = id->pattern;
    size_t n = strlen(p);
    bool is_write = strncmp(p, "platform/", 9) == 0 && strchr(p + 9, '*') == p + n - 2 &&
                    strcmp(p + n - 3, "/**") == 0;
    bool is_outputs = strncmp(p, "shared/", 7) == 0 && strchr(p + 7, '*') == p + n - 1;
    bool is_read = strncmp(p, "u/", 2) == 0 && strpbrk(p + 2, "*/") == NULL;
    if (strlen(id->name) >= AUTH_NAME_MAX || strstr(p, "..") != NULL ||
        strcmp(id->issuer, "https://issuer.example") != 0 || id->subject[0] == '\0' ||
        !((id->role == ROLE_WRITE && is_write) || (id->role == ROLE_OUTPUTS && is_outputs) ||
          (id->role == ROLE_READ && is_read)))
        abort();
}

static void identify(const json_t *claims)
{
    struct auth_identity id = {0};
    struct err e = {0};
    if (oidc_identify(oidc, claims, NOW, &id, &e) == 0)
        check_identity(&id);
    else if ((e.code != ERR_AUTH && e.code != ERR_FORBIDDEN) || e.msg[0] == '\0' ||
             id.name[0] != '\0')
        abort();
}

static void as_jwt(const char *s)
{
    struct jwt j;
    struct err e = {0};
    (void)oidc_is_jwt(s);
    if (jwt_parse(s, &j, &e) != 0) {
        if (e.code != ERR_AUTH || e.msg[0] == '\0')
            abort();
        jwt_cleanup(&j);
        return;
    }
    if ((j.alg != JWT_RS256 && j.alg != JWT_ES256) || !json_is_object(j.claims) ||
        j.signed_len >= strlen(s))
        abort();
    for (size_t i = 0; i < nkeys; i++) {
        err_clear(&e);
        if (jwt_verify(&j, &keys[i], &e) != 0 && (e.code != ERR_AUTH || e.msg[0] == '\0'))
            abort();
    }
    identify(j.claims);
    jwt_cleanup(&j);
}

static void as_json(const char *s, size_t n)
{
    json_t *claims = json_loadb(s, n, 0, NULL);
    if (json_is_object(claims))
        identify(claims);
    json_decref(claims);
    struct jwk *k;
    size_t nk;
    struct err e = {0};
    if (jwks_parse(s, n, &k, &nk, &e) == 0)
        jwks_free(k, nk);
    else if (e.code != ERR_INVALID || k != NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (oidc == NULL)
        setup();
    char *s = xmalloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    if (size > 0 && s[0] == '{')
        as_json(s, size);
    else
        as_jwt(s);
    free(s);
    return 0;
}
