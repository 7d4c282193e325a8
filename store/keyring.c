/* s3/crypt.c: encryption at rest, AES-256-GCM with OpenSSL EVP.
 *
 * Object format:
 *
 *     "STATEDENC1" (10 bytes) | key id (8 ASCII hex) | nonce (12 random bytes) |
 *     ciphertext (same length as the plaintext) | GCM tag (16 bytes)
 *
 * The magic and the key id are the additional authenticated data, so neither can be swapped
 * without the tag failing. The key id (first 8 hex digits of SHA-256 of the key) picks the key
 * on decryption, which is what makes rotation work: put the new key first in the file and keep
 * the old ones below it for as long as objects written with them exist. A random 96-bit nonce
 * per object is safe far beyond the number of writes one key will ever see. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/file.h"
#include "common/util.h"
#include "store/store.h"

#define MAGIC      "STATEDENC1"
#define MAGIC_LEN  10
#define KEYID_LEN  8
#define NONCE_LEN  12
#define TAG_LEN    16
#define HEADER_LEN (MAGIC_LEN + KEYID_LEN + NONCE_LEN)
#define MAX_KEYS   64

struct key {
    unsigned char bytes[32];
    char id[KEYID_LEN + 1];
};

struct keyring {
    struct key keys[MAX_KEYS];
    int n;
};

static void cleanse(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

/* Reads keys from f, one base64 key a line; `origin` names the source in messages (never the
 * key material). Closes f. */
static struct keyring *keyring_read(FILE *f, const char *origin, struct err *err)
{
    struct keyring *kr = xcalloc(1, sizeof(*kr));
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
            err_set(err, ERR_INVALID, "%s line %d: line too long", origin, lineno);
            goto fail;
        }
        /* Trim surrounding whitespace; skip blanks and comments. */
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        n = strlen(s);
        while (n > 0 &&
               (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            s[--n] = '\0';
        if (n == 0 || s[0] == '#')
            continue;
        if (kr->n == MAX_KEYS) {
            err_set(err, ERR_INVALID, "%s: more than %d keys", origin, MAX_KEYS);
            goto fail;
        }
        unsigned char raw[400];
        size_t rawlen = sizeof(raw);
        if (base64_decode(s, n, raw, &rawlen) != 0) {
            err_set(err, ERR_INVALID, "%s line %d: not valid base64", origin, lineno);
            cleanse(raw, sizeof(raw));
            goto fail;
        }
        if (rawlen != 32) {
            err_set(err, ERR_INVALID,
                    "%s line %d: key is %zu bytes, must be 32 "
                    "(e.g. openssl rand -base64 32)",
                    origin, lineno, rawlen);
            cleanse(raw, sizeof(raw));
            goto fail;
        }
        struct key *k = &kr->keys[kr->n];
        memcpy(k->bytes, raw, 32);
        cleanse(raw, sizeof(raw));
        char hex[65];
        sha256_hex(k->bytes, 32, hex);
        memcpy(k->id, hex, KEYID_LEN);
        k->id[KEYID_LEN] = '\0';
        for (int i = 0; i < kr->n; i++)
            if (strcmp(kr->keys[i].id, k->id) == 0) {
                err_set(err, ERR_INVALID, "%s line %d: same key as an earlier line", origin,
                        lineno);
                goto fail;
            }
        kr->n++;
    }
    cleanse(line, sizeof(line));
    if (ferror(f)) {
        err_set_errno(err, ERR_INVALID, errno, "read %s", origin);
        goto fail;
    }
    fclose(f);
    if (kr->n == 0) {
        err_set(err, ERR_INVALID, "%s has no key", origin);
        keyring_free(kr);
        return NULL;
    }
    return kr;
fail:
    cleanse(line, sizeof(line));
    fclose(f);
    keyring_free(kr);
    return NULL;
}

struct keyring *keyring_load(const char *path, struct err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        err_set_errno(err, ERR_INVALID, errno, "encryption key file %s", path);
        return NULL;
    }
    char origin[600];
    snprintf(origin, sizeof(origin), "encryption key file %s", path);
    return keyring_read(f, origin, err);
}

struct keyring *keyring_load_many(const char *const *paths, size_t n, struct err *err)
{
    struct buf all;
    struct keyring *kr = NULL;
    buf_init(&all, 0);
    for (size_t i = 0; i < n; i++) {
        if (file_read(paths[i], &all, err) != 0 || buf_append(&all, "\n", 1, err) != 0)
            goto out;
    }
    FILE *f = fmemopen(all.data, all.len, "r");
    if (f == NULL)
        err_set_errno(err, ERR_INTERNAL, errno, "encryption key files");
    else
        kr = keyring_read(f, n == 1 ? paths[0] : "encryption key files", err);
out:
    if (all.data != NULL)
        cleanse(all.data, all.len);
    buf_cleanup(&all);
    return kr;
}

struct keyring *keyring_parse(const char *text, const char *origin, struct err *err)
{
    /* Containers get secrets as environment variables, where one line per key is awkward:
     * commas and spaces separate keys as well as newlines. */
    if (text[0] == '\0') {
        err_set(err, ERR_INVALID, "%s has no key", origin);
        return NULL;
    }
    char *copy = xstrdup(text);
    for (char *c = copy; *c != '\0'; c++)
        if (*c == ',' || *c == ' ')
            *c = '\n';
    FILE *f = fmemopen(copy, strlen(copy), "r");
    struct keyring *kr = NULL;
    if (f == NULL)
        err_set_errno(err, ERR_INTERNAL, errno, "%s", origin);
    else
        kr = keyring_read(f, origin, err);
    cleanse(copy, strlen(copy));
    free(copy);
    return kr;
}

void keyring_free(struct keyring *kr)
{
    if (!kr)
        return;
    cleanse(kr, sizeof(*kr));
    free(kr);
}

int keyring_seal(struct keyring *kr, const void *plain, size_t len, struct buf *out,
                 struct err *err)
{
    if (len > (size_t)INT32_MAX)
        return err_set(err, ERR_TOO_LARGE, "object too large to encrypt");
    const struct key *k = &kr->keys[0];
    buf_reset(out);
    if (buf_reserve(out, HEADER_LEN + len + TAG_LEN, err) != 0)
        return -1;
    unsigned char *p = (unsigned char *)out->data;
    memcpy(p, MAGIC, MAGIC_LEN);
    memcpy(p + MAGIC_LEN, k->id, KEYID_LEN);
    random_bytes(p + MAGIC_LEN + KEYID_LEN, NONCE_LEN);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = ctx != NULL;
    int outl = 0, fin = 0;
    ok = ok && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1;
    ok = ok && EVP_EncryptInit_ex(ctx, NULL, NULL, k->bytes, p + MAGIC_LEN + KEYID_LEN) == 1;
    ok = ok && EVP_EncryptUpdate(ctx, NULL, &outl, p, MAGIC_LEN + KEYID_LEN) == 1;
    ok = ok && EVP_EncryptUpdate(ctx, p + HEADER_LEN, &outl, plain, (int)len) == 1;
    ok = ok && EVP_EncryptFinal_ex(ctx, p + HEADER_LEN + outl, &fin) == 1;
    ok = ok && (size_t)(outl + fin) == len;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, p + HEADER_LEN + len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        buf_reset(out);
        return err_set(err, ERR_INTERNAL, "encryption failed");
    }
    out->len = HEADER_LEN + len + TAG_LEN;
    out->data[out->len] = '\0';
    return 0;
}

int keyring_open(struct keyring *kr, const void *data, size_t len, bool allow_plain,
                 struct buf *out, struct err *err)
{
    const unsigned char *d = data;
    buf_reset(out);
    if (len < MAGIC_LEN || memcmp(d, MAGIC, MAGIC_LEN) != 0) {
        if (!allow_plain)
            return err_set(err, ERR_INTERNAL, "object is not encrypted");
        return buf_append(out, data, len, err);
    }
    if (len < HEADER_LEN + TAG_LEN)
        return err_set(err, ERR_INTERNAL, "encrypted object truncated");
    if (!kr)
        return err_set(err, ERR_INTERNAL,
                       "object is encrypted but no encryption key is configured");
    const struct key *k = NULL;
    for (int i = 0; i < kr->n; i++)
        if (memcmp(kr->keys[i].id, d + MAGIC_LEN, KEYID_LEN) == 0) {
            k = &kr->keys[i];
            break;
        }
    if (!k) {
        char id[KEYID_LEN + 1];
        for (int i = 0; i < KEYID_LEN; i++) {
            char c = (char)d[MAGIC_LEN + i];
            id[i] = ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) ? c : '?';
        }
        id[KEYID_LEN] = '\0';
        return err_set(err, ERR_INTERNAL, "object encrypted with key id %s, not in the key file",
                       id);
    }
    size_t clen = len - HEADER_LEN - TAG_LEN;
    if (clen > (size_t)INT32_MAX)
        return err_set(err, ERR_TOO_LARGE, "encrypted object too large");
    if (buf_reserve(out, clen, err) != 0)
        return -1;
    unsigned char *p = (unsigned char *)out->data;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = ctx != NULL;
    int outl = 0, fin = 0;
    unsigned char tag[TAG_LEN];
    memcpy(tag, d + len - TAG_LEN, TAG_LEN);
    ok = ok && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1;
    ok = ok && EVP_DecryptInit_ex(ctx, NULL, NULL, k->bytes, d + MAGIC_LEN + KEYID_LEN) == 1;
    ok = ok && EVP_DecryptUpdate(ctx, NULL, &outl, d, MAGIC_LEN + KEYID_LEN) == 1;
    ok = ok && EVP_DecryptUpdate(ctx, p, &outl, d + HEADER_LEN, (int)clen) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
    ok = ok && EVP_DecryptFinal_ex(ctx, p + outl, &fin) == 1;
    ok = ok && (size_t)(outl + fin) == clen;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        /* Never hand out unauthenticated plaintext. */
        cleanse(p, clen);
        buf_reset(out);
        return err_set(err, ERR_INTERNAL,
                       "decryption failed with key id %s: wrong key or tampered object", k->id);
    }
    out->len = clen;
    out->data[out->len] = '\0';
    return 0;
}
