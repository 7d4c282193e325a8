/* audit/anchor.c: anchors (the chain head written outside the trail), their Ed25519
 * signatures, and the check that a verified chain agrees with them and reaches the newest.
 *
 * The signature covers a fixed text of the fields (audit.h), not the JSON object: the object's
 * formatting may change, what is signed may not. A verifier that is given a public key accepts
 * only anchors whose signature verifies, so an attacker who can write the bucket cannot add an
 * anchor that makes a shortened trail look complete, and one who rewrites the trail cannot
 * re-sign the anchors that name its old hashes. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "common/file.h"
#include "common/util.h"

int audit_anchor_text(const struct audit_anchor *a, struct buf *out, struct err *err)
{
    char t[32];
    time_format_rfc3339(a->time_us, t);
    return buf_printf(out, err, "stated-audit-anchor 1\nseq %llu\nhash %s\ntime %s\ninstance %s\n",
                      (unsigned long long)a->seq, a->hash, t, a->instance);
}

int audit_anchor_encode(const struct audit_anchor *a, struct buf *out, struct err *err)
{
    char t[32];
    time_format_rfc3339(a->time_us, t);
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s}", "seq", (json_int_t)a->seq, "hash", a->hash,
                          "time", t, "instance", a->instance, "signature", a->signature);
    char *text = o != NULL ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return err_set(err, ERR_INTERNAL, "cannot encode the anchor");
    int rc = buf_printf(out, err, "%s\n", text);
    free(text);
    return rc;
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int audit_anchor_decode(const char *data, size_t len, struct audit_anchor *a, struct err *err)
{
    json_error_t je;
    json_t *o = json_loadb(data, len, 0, &je);
    memset(a, 0, sizeof(*a));
    json_t *seq = json_object_get(o, "seq");
    const char *hash = json_string_value(json_object_get(o, "hash"));
    const char *t = json_string_value(json_object_get(o, "time"));
    const char *inst = json_string_value(json_object_get(o, "instance"));
    const char *sig = json_string_value(json_object_get(o, "signature"));
    int rc = 0;
    if (!json_is_integer(seq) || json_integer_value(seq) <= 0 || hash == NULL || !is_hex64(hash) ||
        t == NULL || time_parse_rfc3339(t, &a->time_us) != 0 || inst == NULL ||
        strlen(inst) >= sizeof(a->instance) || sig == NULL || strlen(sig) >= sizeof(a->signature))
        rc =
            err_set(err, ERR_INVALID, "not an audit anchor (seq, hash, time, instance, signature)");
    else {
        a->seq = (uint64_t)json_integer_value(seq);
        snprintf(a->hash, sizeof(a->hash), "%s", hash);
        snprintf(a->instance, sizeof(a->instance), "%s", inst);
        snprintf(a->signature, sizeof(a->signature), "%s", sig);
    }
    json_decref(o);
    return rc;
}

void audit_anchor_key(const struct audit_anchor *a, char *out, size_t cap)
{
    snprintf(out, cap, "%s%020llu-%s.json", AUDIT_ANCHOR_PREFIX, (unsigned long long)a->seq,
             a->instance);
}

void *audit_key_load(const char *path, bool private_key, struct err *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_set_errno(err, ERR_INVALID, errno, "%s", path), NULL;
    EVP_PKEY *k = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
                              : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (k == NULL || EVP_PKEY_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        err_set(err, ERR_INVALID, "%s: not an Ed25519 %s key in PEM", path,
                private_key ? "private" : "public");
        return NULL;
    }
    return k;
}

void audit_key_free(void *key)
{
    EVP_PKEY_free(key);
}

int audit_anchor_sign(struct audit_anchor *a, void *private_key, struct err *err)
{
    struct buf text;
    unsigned char sig[64];
    size_t siglen = sizeof(sig);
    buf_init(&text, 0);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = audit_anchor_text(a, &text, err);
    if (rc == 0 &&
        (md == NULL || EVP_DigestSignInit(md, NULL, NULL, NULL, private_key) != 1 ||
         EVP_DigestSign(md, sig, &siglen, (const unsigned char *)text.data, text.len) != 1))
        rc = err_set(err, ERR_INTERNAL, "cannot sign the anchor");
    if (rc == 0) {
        char *b = base64_encode(sig, siglen);
        snprintf(a->signature, sizeof(a->signature), "%s", b);
        free(b);
    }
    EVP_MD_CTX_free(md);
    buf_cleanup(&text);
    return rc;
}

int audit_anchor_check_signature(const struct audit_anchor *a, void *public_key, struct err *err)
{
    unsigned char sig[72];
    size_t siglen = sizeof(sig);
    if (a->signature[0] == '\0')
        return err_set(err, ERR_INVALID, "anchor at seq %llu is not signed",
                       (unsigned long long)a->seq);
    if (base64_decode(a->signature, strlen(a->signature), sig, &siglen) != 0 || siglen != 64)
        return err_set(err, ERR_INVALID, "anchor at seq %llu: signature is not 64 base64 bytes",
                       (unsigned long long)a->seq);
    struct buf text;
    buf_init(&text, 0);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = audit_anchor_text(a, &text, err);
    if (rc == 0 &&
        (md == NULL || EVP_DigestVerifyInit(md, NULL, NULL, NULL, public_key) != 1 ||
         EVP_DigestVerify(md, sig, siglen, (const unsigned char *)text.data, text.len) != 1))
        rc = err_set(err, ERR_INVALID,
                     "anchor at seq %llu: the signature does not match (altered, or another key)",
                     (unsigned long long)a->seq);
    EVP_MD_CTX_free(md);
    buf_cleanup(&text);
    return rc;
}

void audit_anchors_add(struct audit_anchors *s, const struct audit_anchor *a)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    size_t i = s->n;
    while (i > 0 && s->v[i - 1].seq > a->seq) {
        s->v[i] = s->v[i - 1];
        i--;
    }
    s->v[i] = *a;
    s->n++;
}

void audit_anchors_cleanup(struct audit_anchors *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static int load_one(struct audit_anchors *s, const char *path, void *pub, struct err *err)
{
    struct buf b;
    struct audit_anchor a;
    buf_init(&b, 0);
    int rc = file_read(path, &b, err);
    if (rc == 0 && audit_anchor_decode(b.data, b.len, &a, err) != 0)
        rc = err_set(err, ERR_INVALID, "%s: %s", path, err->msg);
    if (rc == 0 && pub != NULL && audit_anchor_check_signature(&a, pub, err) != 0)
        rc = err_set(err, ERR_INVALID, "%s: %s", path, err->msg);
    if (rc == 0)
        audit_anchors_add(s, &a);
    buf_cleanup(&b);
    return rc;
}

int audit_anchors_load_dir(struct audit_anchors *s, const char *dir, void *pub, struct err *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return err_set_errno(err, ERR_INVALID, errno, "anchors directory %s", dir);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        char *path = xasprintf("%s/%s", dir, de->d_name);
        rc = load_one(s, path, pub, err);
        free(path);
    }
    closedir(d);
    if (rc == 0 && s->n == 0)
        rc = err_set(err, ERR_INVALID, "no anchor (*.json) in %s", dir);
    return rc;
}

/* The anchor recording seq, or NULL. */
static const struct audit_anchor *anchor_at(const struct audit_anchors *s, uint64_t seq)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->v[lo].seq == seq ? &s->v[lo] : NULL;
}

int audit__anchor_step(const struct audit_anchors *s, uint64_t seq, const char hash[65],
                       struct audit_verify_result *res)
{
    const struct audit_anchor *a = s != NULL ? anchor_at(s, seq) : NULL;
    if (a == NULL || strcmp(a->hash, hash) == 0)
        return 0;
    char t[32];
    time_format_rfc3339(a->time_us, t);
    res->first_broken = seq;
    snprintf(res->reason, sizeof(res->reason),
             "event %llu's hash differs from anchor %020llu-%s of %s (%.16s…, the trail has "
             "%.16s…): the chain was rewritten from this event or before",
             (unsigned long long)seq, (unsigned long long)a->seq, a->instance, t, a->hash, hash);
    return -1;
}

void audit_anchors_final(struct audit_verify_result *res)
{
    const struct audit_anchors *s = res->anchors;
    if (s == NULL || s->n == 0 || res->first_broken != 0)
        return;
    const struct audit_anchor *a = &s->v[s->n - 1];
    if (a->seq <= res->last_seq)
        return;
    char t[32];
    time_format_rfc3339(a->time_us, t);
    res->first_broken = res->last_seq + 1;
    snprintf(res->reason, sizeof(res->reason),
             "the trail ends at seq %llu but anchor %020llu-%s of %s records seq %llu with hash "
             "%s: events were removed from the end",
             (unsigned long long)res->last_seq, (unsigned long long)a->seq, a->instance, t,
             (unsigned long long)a->seq, a->hash);
}
