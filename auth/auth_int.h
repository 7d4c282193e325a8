/* auth/auth_int.h: what the files of auth/ share. Not for other parts (auth/auth.h is the API).
 *
 *   auth.c       roles and their permissions, credentials, auth_init/authenticate, auth's thread
 *   tokens.c     the tokens of every source in memory: lookup, expiry, last use, changes
 *   tokens_doc.c runtime tokens as a JSON document in the state storage
 *   tokens_pg.c  runtime tokens in PostgreSQL
 *   ratelimit.c  failed logins per client address
 *   oidc.c       OIDC issuers, their keys and rules (JWT login)
 *   jwt.c        JWS, JWK and JWKS parsing and verification */
#ifndef STATED_AUTH_INT_H
#define STATED_AUTH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "auth/auth.h"
#include "common/err.h"

/* ================================================================== OIDC login
 * auth/oidc.c and auth/jwt.c, down to "end of OIDC login".
 *
 * ------------------------------------------------------------------ OIDC (auth/oidc.c)
 *
 * JWTs from the CI systems' OIDC issuers (GitLab id_tokens, GitHub Actions) as credentials,
 * configured by --oidc-config (docs/oidc.md). One struct oidc holds the issuers, their rules
 * and each issuer's cache of signing keys; oidc_start starts one thread per issuer that fetches
 * the keys at once and every hour, and again when a token names a key not in the cache.
 *
 * Threads: oidc_load, oidc_start and oidc_free on the main thread (before serving, after the
 * workers are stopped); oidc_is_jwt and oidc_authenticate on any thread, concurrently.
 * Nothing here ever fetches on the calling thread. */

struct oidc;

/* Reads and checks an --oidc-config file; every problem is ERR_INVALID naming the file and the
 * JSON path ($.issuers[0].rules[1].states …): err holds the first and how many there are;
 * when there are several, each is also logged. Issuer URLs must be https, or http on a loopback
 * host (127.0.0.0/8, ::1, localhost); roles are auth_role_parse names; a "states" or "name"
 * template may use {claim} placeholders; unknown keys are errors. Fetches nothing. Returns a new
 * oidc (oidc_free). */
struct oidc *oidc_load(const char *path, struct err *err);
/* Starts fetching and refreshing the issuers' keys in the background (at once, then every
 * hour), off the event loop: one thread per issuer, stopped by oidc_free. Call once. */
void oidc_start(struct oidc *o);
void oidc_free(struct oidc *o); /* NULL-safe; stops the background work */
/* True when credential has the shape of a compact JWS (three base64url parts joined by '.',
 * the first two not empty): such a credential goes to OIDC and is never looked up as a
 * token. */
bool oidc_is_jwt(const char *credential);
/* Verifies and maps a JWT. 0: id->name (the rule's name, placeholders filled), role, pattern,
 * issuer, subject (sub) and jti ("" when the token has none) set; id->username and every
 * field on failure are left alone. -1 with:
 *   ERR_AUTH (401): malformed, over 16 KB, alg not RS256/ES256, unknown key after a refresh,
 *     bad signature, iss/aud/exp/nbf/iat; the message says which, never the token;
 *   ERR_FORBIDDEN (403): no rule matched (names the issuer and, for each rule, the claim that
 *     did not match) or a claim unfit for a placeholder;
 *   ERR_ISSUER_UNAVAILABLE (503): no key at all for the issuer, because it could not be
 *     reached.
 * Any thread, concurrently. Waits at most 2 s, and only for a key fetch: when the key is not
 * cached and a fetch is under way, or one is asked for (at most once per issuer per 10 s;
 * only after oidc_start). */
int oidc_authenticate(struct oidc *o, const char *jwt, struct auth_identity *id, struct err *err);

/* For tests and fuzzing. */

/* oidc_load on a document in memory; name stands for the file in messages. */
struct oidc *oidc_load_text(const char *name, const char *text, size_t len, struct err *err);
/* Installs a JWKS document as the keys of the configured issuer, as a fetch would. */
int oidc_set_keys(struct oidc *o, const char *issuer, const char *jwks, size_t len,
                  struct err *err);
/* What oidc_authenticate does once the signature is verified: issuer, audience, times (now_s:
 * seconds since the epoch), sub and jti, then the rules. Same errors. */
int oidc_identify(const struct oidc *o, const json_t *claims, int64_t now_s,
                  struct auth_identity *id, struct err *err);

/* ------------------------------------------------------------------ JWT (auth/jwt.c)
 *
 * Compact JWS (RFC 7515) signed with RS256 or ES256 (RFC 7518), JWKs (RFC 7517). Every failure
 * is ERR_AUTH with a message that never quotes the token. */

#define JWT_MAX_LEN  (16 * 1024) /* a longer credential is refused before any parsing */
#define JWT_LEEWAY_S 60          /* clock skew allowed for exp, nbf and iat */
#define JWT_KID_MAX  128

enum jwt_alg { JWT_ALG_NONE = 0, JWT_RS256, JWT_ES256 };

struct jwt {
    enum jwt_alg alg;
    char kid[JWT_KID_MAX]; /* "" when the header has none */
    json_t *header, *claims;
    char *signed_part; /* "header.payload" as received: what the signature covers */
    size_t signed_len;
    unsigned char *sig;
    size_t sig_len;
};

/* A public signing key from a JWKS. */
struct jwk {
    char kid[JWT_KID_MAX];
    enum jwt_alg alg; /* the one algorithm the key may verify: RSA keys RS256, P-256 ES256 */
    EVP_PKEY *pkey;
};

/* Copies s for a message: printable ASCII only, each other byte as '?', at most
 * JWT_SHOWN_MAX-1 characters (a client's text must not shape a log line, nor break the UTF-8 of
 * an error body when a message is cut). Returns out. */
#define JWT_SHOWN_MAX 48
const char *jwt_shown(const char *s, char out[JWT_SHOWN_MAX]);
/* Decodes unpadded base64url (RFC 4648 §5) strictly: no '=', no other byte, unused trailing
 * bits zero, so one value has one encoding. Writes at most *outlen bytes and sets *outlen. */
int jwt_b64url_decode(const char *in, size_t inlen, unsigned char *out, size_t *outlen);
/* True when s[0..n) is non-empty base64url text. */
bool jwt_is_b64url(const char *s, size_t n);
/* Splits and decodes a compact JWS; checks the header (alg RS256 or ES256, kid, no crit) and
 * that header and claims are JSON objects without duplicate names. Fills *j (jwt_cleanup,
 * also after a failure). Verifies nothing. */
int jwt_parse(const char *compact, struct jwt *j, struct err *err);
void jwt_cleanup(struct jwt *j);
/* Checks j's signature with key; the key's algorithm must be j's. */
int jwt_verify(const struct jwt *j, const struct jwk *key, struct err *err);
/* exp (required), nbf and iat (required) against now_s with JWT_LEEWAY_S. */
int jwt_check_times(const json_t *claims, int64_t now_s, struct err *err);
/* aud is audience, or an array holding it. */
int jwt_check_audience(const json_t *claims, const char *audience, struct err *err);
/* A claim as text: a string as it is, a number or boolean as its JSON text ("42", "true"),
 * borrowed from claims or written to buf. NULL when the claim is missing or of another type
 * (null, array, object). */
#define JWT_SCALAR_MAX 32
const char *jwt_claim_text(const json_t *claims, const char *name, char buf[JWT_SCALAR_MAX]);
/* One JWK as a key. Keys that stated does not use (other types and curves, "use" other than
 * "sig", an "alg" other than the key's, RSA under 2048 or over 8192 bits) are ERR_INVALID. */
int jwk_parse(const json_t *jwk, struct jwk *out, struct err *err);
void jwk_cleanup(struct jwk *k);
/* A JWKS document: every usable key of its "keys" (others are skipped and logged at debug),
 * first of a kid wins. ERR_INVALID when the document is malformed or has no usable key.
 * *keys is a new array (jwks_free). */
int jwks_parse(const char *doc, size_t len, struct jwk **keys, size_t *n, struct err *err);
void jwks_free(struct jwk *keys, size_t n);

/* ================================================================== end of OIDC login */

/* ------------------------------------------------------------------ names and patterns */

/* A token name: 1-63 of A-Z a-z 0-9 . _ - @. */
bool auth__name_ok(const char *s);
/* A state pattern: 1-255 printable characters. */
bool auth__pattern_ok(const char *s);

/* ------------------------------------------------------------------ tokens (tokens.c) */

struct token {
    char name[AUTH_TOKEN_NAME_MAX];
    enum auth_role role;
    char pattern[AUTH_PATTERN_MAX];
    unsigned char sha[32]; /* SHA-256 of the secret */
    const char *source;    /* "env", "file", "store", "postgres" (static strings) */
    int64_t created_us;    /* 0 when unknown */
    int64_t expires_us;    /* 0: never */
    int64_t last_used_us;  /* as stored (0: never) */
    char last_used_from[64];
};

/* The last use of one token, on its way to the store. */
struct token_use {
    char name[AUTH_TOKEN_NAME_MAX];
    int64_t us;
    char remote[64];
};

/* Where runtime tokens live. Every call may block (storage, PostgreSQL). */
struct token_store;
struct token_store_ops {
    /* Every runtime token (a malloc'd array, *v NULL when none) with the change counter it
     * reflects. */
    int (*load)(struct token_store *ts, struct token **v, size_t *n, uint64_t *epoch,
                struct err *err);
    /* The change counter now: a create or revoke anywhere changes it. */
    int (*epoch)(struct token_store *ts, uint64_t *epoch, struct err *err);
    /* ERR_INVALID when t->name is taken. */
    int (*create)(struct token_store *ts, const struct token *t, struct err *err);
    /* ERR_NOT_FOUND when there is no such runtime token. */
    int (*revoke)(struct token_store *ts, const char *name, struct err *err);
    /* Records last uses (newer than what is stored; names that are not runtime tokens are
     * kept where the store can, else ignored). */
    int (*record_uses)(struct token_store *ts, const struct token_use *u, size_t n,
                       struct err *err);
    void (*free)(struct token_store *ts);
    const char *source; /* what tokens list shows: "store" or "postgres" */
    int poll_ms;        /* how often another instance's change is looked for */
    int flush_ms;       /* how often last uses are written */
};
struct token_store {
    const struct token_store_ops *ops;
};

/* The JSON document driver (one "tokens" and one "token-usage" document in persist). */
struct token_store *tokens_doc_new(const struct auth_persist *persist);
/* The PostgreSQL driver. The first instance on a database without tokens yet imports the
 * "tokens" document of persist (may be NULL) once, in the same transaction that records it. */
struct token_store *tokens_pg_new(const char *conninfo, const struct auth_persist *persist,
                                  struct err *err);

/* Loads the static tokens and the runtime ones from ts (may be NULL: none; tokens owns it). */
int tokens_init(const char *admin_token, const char *token_file, struct token_store *ts,
                struct err *err);
void tokens_shutdown(void);
/* How many tokens are known (0: no token could ever be accepted). */
size_t tokens_count(void);
/* The identity of secret. -1 with ERR_AUTH when it is unknown, -2 with ERR_AUTH when it
 * expired (the message names the token: its holder knows the name). A success is recorded as the
 * token's last use from remote. */
int tokens_authenticate(const char *secret, const char *remote, struct auth_identity *id,
                        struct err *err);
/* auth's thread, every second: picks up other instances' changes, writes last uses when
 * due (all of them when final). */
void tokens_tick(bool final);

/* ------------------------------------------------------------------ failed logins (ratelimit.c) */

void ratelimit_init(unsigned per_minute);
/* Whether remote is over the limit now; when it is, the refusal is counted. */
bool ratelimit_refuse(const char *remote, const char *peer, int64_t now_us);
/* Counts one failed login of remote. */
void ratelimit_failed(const char *remote, const char *peer, const char *reason, int64_t now_us);
/* The addresses whose minute ended by now (every address with failures when all), each
 * handed to cb once and forgotten. */
void ratelimit_report(int64_t now_us, bool all,
                      void (*cb)(void *ctx, const struct auth_failures *f), void *ctx);

#endif
