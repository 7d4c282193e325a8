/* tests/unit/test_crypt.c: the encryption keyring: key file parsing and its error messages,
 * the sealed object format, authentication of every part, rotation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "store/store.h"
#include "tests/unit/t.h"

static char *write_text(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", t_tempdir(), name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static char *key_b64(unsigned char fill)
{
    unsigned char k[32];
    memset(k, fill, sizeof(k));
    return base64_encode(k, sizeof(k));
}

static struct keyring *load_text(const char *text, struct err *e)
{
    char *path = write_text("keys", text);
    struct keyring *kr = keyring_load(path, e);
    free(path);
    return kr;
}

static void test_seal_open_format(void)
{
    char *k1 = key_b64(0x11);
    char *text = xasprintf("# production key\n\n  %s  \n", k1);
    struct err e = {0};
    struct keyring *kr = load_text(text, &e);
    CHECK(kr != NULL);
    const char *msg = "{\"serial\":1,\"lineage\":\"x\"}";
    struct buf sealed, plain;
    buf_init(&sealed, 0);
    buf_init(&plain, 0);
    CHECK_INT(keyring_seal(kr, msg, strlen(msg), &sealed, &e), 0);
    CHECK_INT(sealed.len, 10 + 8 + 12 + strlen(msg) + 16);
    CHECK_MEM(sealed.data, 10, "STATEDENC1", 10);
    unsigned char raw[32];
    memset(raw, 0x11, sizeof(raw));
    char id[65];
    sha256_hex(raw, 32, id);
    CHECK_MEM(sealed.data + 10, 8, id, 8);
    CHECK_INT(keyring_open(kr, sealed.data, sealed.len, false, &plain, &e), 0);
    CHECK_MEM(plain.data, plain.len, msg, strlen(msg));

    /* A fresh nonce each time. */
    struct buf again;
    buf_init(&again, 0);
    CHECK_INT(keyring_seal(kr, msg, strlen(msg), &again, &e), 0);
    CHECK(memcmp(again.data + 18, sealed.data + 18, 12) != 0);
    buf_cleanup(&again);

    /* Empty plaintext works. */
    CHECK_INT(keyring_seal(kr, "", 0, &again, &e), 0);
    CHECK_INT(keyring_open(kr, again.data, again.len, false, &plain, &e), 0);
    CHECK_INT(plain.len, 0);
    buf_cleanup(&again);

    /* Every byte is authenticated: the magic/key id (AAD), nonce, ciphertext, tag. */
    size_t spots[] = {9, 12, 20, 35, sealed.len - 1};
    for (size_t i = 0; i < sizeof(spots) / sizeof(*spots); i++) {
        char *t = xmalloc(sealed.len);
        memcpy(t, sealed.data, sealed.len);
        t[spots[i]] ^= 0x01;
        struct err e2 = {0};
        CHECK_INT(keyring_open(kr, t, sealed.len, false, &plain, &e2), -1);
        CHECK_INT(e2.code, ERR_INTERNAL);
        CHECK_INT(plain.len, 0);
        free(t);
    }
    /* Truncated. */
    CHECK_INT(keyring_open(kr, sealed.data, 30, false, &plain, &e), -1);
    err_clear(&e);

    /* Plaintext objects: passed through only when allowed. */
    CHECK_INT(keyring_open(kr, msg, strlen(msg), true, &plain, &e), 0);
    CHECK_MEM(plain.data, plain.len, msg, strlen(msg));
    CHECK_INT(keyring_open(kr, msg, strlen(msg), false, &plain, &e), -1);
    err_clear(&e);

    buf_cleanup(&sealed);
    buf_cleanup(&plain);
    keyring_free(kr);
    free(text);
    free(k1);
}

static void test_rotation(void)
{
    char *ka = key_b64(0xaa), *kb = key_b64(0xbb);
    struct err e = {0};
    char *t1 = xasprintf("%s\n", ka);
    char *t2 = xasprintf("%s\n%s\n", kb, ka);
    char *t3 = xasprintf("%s\n", kb);
    struct keyring *a = load_text(t1, &e), *ba = load_text(t2, &e), *b = load_text(t3, &e);
    CHECK(a && ba && b);
    struct buf s_a, s_ba, out;
    buf_init(&s_a, 0);
    buf_init(&s_ba, 0);
    buf_init(&out, 0);
    CHECK_INT(keyring_seal(a, "old", 3, &s_a, &e), 0);
    CHECK_INT(keyring_seal(ba, "new", 3, &s_ba, &e), 0);
    /* [B, A] reads A's object; its own writes are B's. */
    CHECK_INT(keyring_open(ba, s_a.data, s_a.len, false, &out, &e), 0);
    CHECK_MEM(out.data, out.len, "old", 3);
    CHECK_INT(keyring_open(b, s_ba.data, s_ba.len, false, &out, &e), 0);
    CHECK_MEM(out.data, out.len, "new", 3);
    /* [B] alone cannot read A's object; the message names the key id, never the key. */
    CHECK_INT(keyring_open(b, s_a.data, s_a.len, false, &out, &e), -1);
    CHECK_INT(e.code, ERR_INTERNAL);
    CHECK(strstr(e.msg, "key id") != NULL);
    CHECK(strstr(e.msg, ka) == NULL);
    buf_cleanup(&s_a);
    buf_cleanup(&s_ba);
    buf_cleanup(&out);
    keyring_free(a);
    keyring_free(ba);
    keyring_free(b);
    free(t1), free(t2), free(t3), free(ka), free(kb);
}

static void test_bad_key_files(void)
{
    struct err e = {0};
    /* 16-byte key on line 3. */
    unsigned char short_key[16] = {1};
    char *s16 = base64_encode(short_key, sizeof(short_key));
    char *k = key_b64(0x42);
    char *text = xasprintf("# keys\n%s\n%s\n", k, s16);
    CHECK(load_text(text, &e) == NULL);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK(strstr(e.msg, "line 3") != NULL);
    CHECK(strstr(e.msg, "16 bytes") != NULL);
    CHECK(strstr(e.msg, s16) == NULL);
    CHECK(strstr(e.msg, k) == NULL);
    err_clear(&e);
    free(text);
    /* Bad base64 on line 2. */
    CHECK(load_text("\nnot*base64!\n", &e) == NULL);
    CHECK(strstr(e.msg, "line 2") != NULL);
    CHECK(strstr(e.msg, "base64") != NULL);
    CHECK(strstr(e.msg, "not*base64") == NULL);
    err_clear(&e);
    /* Only comments. */
    CHECK(load_text("# nothing here\n", &e) == NULL);
    CHECK(strstr(e.msg, "no key") != NULL);
    err_clear(&e);
    /* The same key twice. */
    text = xasprintf("%s\n%s\n", k, k);
    CHECK(load_text(text, &e) == NULL);
    CHECK(strstr(e.msg, "line 2") != NULL);
    err_clear(&e);
    free(text);
    /* Missing file. */
    CHECK(keyring_load("/nonexistent/stated.keys", &e) == NULL);
    CHECK_INT(e.code, ERR_INVALID);
    free(s16);
    free(k);
}

/* STATED_ENCRYPTION_KEY: keys as one string; commas, spaces and newlines separate them, and the
 * result is the same keyring as the file form. */
static void test_parse_inline_keys(void)
{
    char *ka = key_b64(0x11), *kb = key_b64(0x22);
    struct err e = {0};
    char *inline_keys = xasprintf("%s, %s", kb, ka);
    char *file_text = xasprintf("%s\n%s\n", kb, ka);
    struct keyring *from_env = keyring_parse(inline_keys, "STATED_ENCRYPTION_KEY", &e);
    struct keyring *from_file = load_text(file_text, &e);
    CHECK(from_env != NULL && from_file != NULL);
    struct buf sealed, out;
    buf_init(&sealed, 0);
    buf_init(&out, 0);
    CHECK_INT(keyring_seal(from_env, "state", 5, &sealed, &e), 0);
    CHECK_INT(keyring_open(from_file, sealed.data, sealed.len, false, &out, &e), 0);
    CHECK_MEM(out.data, out.len, "state", 5);

    err_clear(&e);
    CHECK(keyring_parse("not-base64!", "STATED_ENCRYPTION_KEY", &e) == NULL);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK(strncmp(e.msg, "STATED_ENCRYPTION_KEY line 1", 28) == 0);
    err_clear(&e);
    CHECK(keyring_parse("", "STATED_ENCRYPTION_KEY", &e) == NULL);
    CHECK_STR(e.msg, "STATED_ENCRYPTION_KEY has no key");
    buf_cleanup(&sealed);
    buf_cleanup(&out);
    keyring_free(from_env);
    keyring_free(from_file);
    free(inline_keys), free(file_text), free(ka), free(kb);
}

int main(void)
{
    RUN(test_seal_open_format);
    RUN(test_rotation);
    RUN(test_bad_key_files);
    RUN(test_parse_inline_keys);
    return t_report();
}
