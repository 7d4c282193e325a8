/* backend/session.c: the console's session cookie (backend.h "console sessions").
 *
 * The cookie is the session: a small JSON object {"v":1,"sid","csrf","cred","iat","seen"}
 * sealed with the session keyring (store.h keyring_seal: AES-256-GCM, random nonce, the key
 * id in the authenticated header), then base64, which is a valid cookie value as it is. Nothing
 * is kept on the server, so sessions survive a restart and span instances that share the key,
 * and a tampered or foreign cookie fails the GCM tag. The credential inside is only ever
 * handed to the normal authentication path; expiry here is the session's own (idle and
 * absolute), on top of the credential's. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend/backend.h"
#include "common/util.h"

#define REFRESH_US (60LL * 1000000)

static void wipe(char *s)
{
    if (s == NULL)
        return;
    volatile char *v = s;
    while (*v != '\0')
        *v++ = '\0';
}

void session_new(struct session *s, const char *credential, int64_t now_us)
{
    unsigned char raw[16];
    memset(s, 0, sizeof(*s));
    random_bytes(raw, sizeof(raw));
    hex_encode(raw, sizeof(raw), s->sid);
    random_token(s->csrf);
    s->credential = xstrdup(credential);
    s->issued_us = s->seen_us = now_us;
}

void session_cleanup(struct session *s)
{
    wipe(s->credential);
    free(s->credential);
    s->credential = NULL;
}

int session_seal(struct keyring *kr, const struct session *s, char **out, struct err *err)
{
    json_t *o =
        json_pack("{s:i,s:s,s:s,s:s,s:I,s:I}", "v", 1, "sid", s->sid, "csrf", s->csrf, "cred",
                  s->credential, "iat", (json_int_t)s->issued_us, "seen", (json_int_t)s->seen_us);
    char *plain = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (plain == NULL)
        return err_set(err, ERR_INVALID, "the credential cannot be kept in a session");
    struct buf sealed;
    buf_init(&sealed, 0);
    int rc = keyring_seal(kr, plain, strlen(plain), &sealed, err);
    wipe(plain);
    free(plain);
    *out = rc == 0 ? base64_encode(sealed.data, sealed.len) : NULL;
    buf_cleanup(&sealed);
    if (rc == 0 && strlen(*out) > SESSION_COOKIE_MAX) {
        free(*out);
        *out = NULL;
        return err_set(err, ERR_INVALID,
                       "the credential is too long to be kept in a session "
                       "cookie (use a shorter token)");
    }
    return rc;
}

/* The sealed bytes' plaintext as JSON; NULL when anything is wrong (the caller says why). */
static json_t *unseal(struct keyring *kr, const char *value)
{
    size_t n = strlen(value), rawlen = n;
    if (n == 0 || n > SESSION_COOKIE_MAX)
        return NULL;
    unsigned char *raw = xmalloc(n);
    struct buf plain;
    struct err e = {0};
    json_t *o = NULL;
    buf_init(&plain, 0);
    if (base64_decode(value, n, raw, &rawlen) == 0 &&
        keyring_open(kr, raw, rawlen, false, &plain, &e) == 0)
        o = json_loadb(plain.data != NULL ? plain.data : "", plain.len, 0, NULL);
    if (plain.data != NULL)
        memset(plain.data, 0, plain.len);
    buf_cleanup(&plain);
    free(raw);
    return o;
}

int session_open(struct keyring *kr, const char *value, int64_t now_us, int64_t idle_us,
                 int64_t max_us, struct session *s, struct err *err)
{
    memset(s, 0, sizeof(*s));
    json_t *o = unseal(kr, value);
    const char *sid = json_string_value(json_object_get(o, "sid"));
    const char *csrf = json_string_value(json_object_get(o, "csrf"));
    const char *cred = json_string_value(json_object_get(o, "cred"));
    json_t *iat = json_object_get(o, "iat"), *seen = json_object_get(o, "seen");
    if (json_integer_value(json_object_get(o, "v")) != 1 || sid == NULL || csrf == NULL ||
        cred == NULL || strlen(sid) >= sizeof(s->sid) || strlen(csrf) >= sizeof(s->csrf) ||
        !json_is_integer(iat) || !json_is_integer(seen)) {
        json_decref(o);
        return err_set(err, ERR_AUTH, "not a valid session: sign in again");
    }
    snprintf(s->sid, sizeof(s->sid), "%s", sid);
    snprintf(s->csrf, sizeof(s->csrf), "%s", csrf);
    s->credential = xstrdup(cred);
    s->issued_us = json_integer_value(iat);
    s->seen_us = json_integer_value(seen);
    json_decref(o); /* jansson's copy of the credential is freed with it (not wiped) */
    if (now_us - s->issued_us >= max_us || now_us - s->seen_us >= idle_us) {
        session_cleanup(s);
        return err_set(err, ERR_AUTH, "session expired: sign in again");
    }
    return 0;
}

bool session_needs_refresh(const struct session *s, int64_t now_us, int64_t idle_us)
{
    int64_t every = idle_us / 2 < REFRESH_US ? idle_us / 2 : REFRESH_US;
    return now_us - s->seen_us >= every;
}

bool session_csrf_ok(const char *want, const char *header)
{
    return header != NULL && want[0] != '\0' &&
           ct_equal(header, strlen(header), want, strlen(want));
}

char *session_cookie_value(const char *cookie_header, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = cookie_header; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == '\t' || *p == ';' || *p == ',')
            p++;
        size_t flen = strcspn(p, ";,");
        if (flen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t vlen = flen - nlen - 1;
            while (vlen > 0 && (p[nlen + 1 + vlen - 1] == ' ' || p[nlen + 1 + vlen - 1] == '\t'))
                vlen--;
            return xstrndup(p + nlen + 1, vlen);
        }
        p += flen;
    }
    return NULL;
}
