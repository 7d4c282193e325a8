/* s3/s3_int.h: helpers shared by the files of s3/ (not part of the public API in s3.h).
 *
 *  sigv4_*  AWS Signature Version 4 (s3/sigv4.c): pure functions, no I/O and no clock, so the
 *           published test vectors pin them down exactly.
 *  s3__*    the S3 HTTP client over libcurl (s3/client.c) and its pure parts (XML listing
 *           parser, key encoding, retry decisions), which tests/unit/test_s3client.c checks
 *           without a server. */
#ifndef STATED_S3_INT_H
#define STATED_S3_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "s3/s3.h"

/* ------------------------------------------------------------------ SigV4 */

/* Hex SHA-256 of the empty string: the payload hash of a body-less request. */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct sigv4_header {
    const char *name; /* any case; signed lowercase */
    const char *value;
};
struct sigv4_param {
    const char *key;   /* raw (not yet percent-encoded) */
    const char *value; /* raw; NULL or "" gives "key=" */
};
struct sigv4_request {
    const char *method;
    const char *path; /* raw path, starting with '/'; percent-encoded here, never twice */
    const struct sigv4_param *query;
    size_t nquery;
    const struct sigv4_header *headers; /* every header to sign: host and x-amz-date at least */
    size_t nheaders;
    const char *payload_hash; /* lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
};
struct sigv4_creds {
    const char *access_key;
    const char *secret_key;
    const char *region;
    const char *service; /* "s3" */
};

/* Percent-encodes bytes as SigV4 and S3 want: every byte except A-Za-z0-9-._~ becomes %XX
 * (uppercase hex); '/' is kept when keep_slash. Appends to out (no ceiling expected). */
void sigv4_uri_encode(const char *in, size_t len, bool keep_slash, struct buf *out);
/* The canonical query string: each key and value encoded, pairs sorted by encoded key then
 * value, joined by '&'. Returns a new string (caller frees). */
char *sigv4_canonical_query(const struct sigv4_param *q, size_t n);
/* The canonical request; *signed_headers (may be NULL) gets a new string
 * "host;x-amz-date" (caller frees). Returns a new string (caller frees). */
char *sigv4_canonical_request(const struct sigv4_request *r, char **signed_headers);
/* "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(creq)>". Returns a new string. */
char *sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq);
/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date8), region), service), "aws4_request") */
void sigv4_signing_key(const char *secret, const char *date8, const char *region,
                       const char *service, unsigned char out[32]);
/* The whole signature: returns the Authorization header value (a new string), and the
 * hex signature into sig_hex when not NULL. amz_date is "YYYYMMDDTHHMMSSZ", the same value
 * the request carries in x-amz-date. */
char *sigv4_authorization(const struct sigv4_creds *c, const struct sigv4_request *r,
                          const char *amz_date, char sig_hex[65]);
/* "YYYYMMDDTHHMMSSZ" for a Unix time. */
void sigv4_amz_date(int64_t unix_seconds, char out[17]);

/* ------------------------------------------------------------------ S3 client */

struct s3_client;

/* Copies what it needs from cfg. Validates the endpoint ("http[s]://host[:port]"). */
struct s3_client *s3__client_new(const struct s3_config *cfg, struct err *err);
void s3__client_free(struct s3_client *c); /* NULL-safe; closes every thread's connection */

#define S3_ETAG_MAX 96

/* What a HEAD/GET tells about an object. */
struct s3__objhead {
    uint64_t size;
    int64_t mtime_us;
    char meta[OBJ_META_MAX]; /* decoded x-amz-meta-stated, "" when none or undecodable */
    char version_id[128];
    char etag[S3_ETAG_MAX]; /* as sent, quotes included; "" when none */
    bool not_modified;      /* a conditional GET answered 304: nothing was appended */
};

/* PutObject. meta (may be NULL) is stored in x-amz-meta-stated (encoded with
 * s3__meta_encode). Content-MD5 and x-amz-content-sha256 let the server check the body. */
int s3__put_object(struct s3_client *c, const char *key, const void *data, size_t len,
                   const char *meta, struct err *err);
/* PutObject with the body's SHA-256 (lowercase hex) given by the caller: it is sent as
 * x-amz-content-sha256, which S3 verifies, so no Content-MD5 is computed or sent. */
int s3__put_object_sha256(struct s3_client *c, const char *key, const void *data, size_t len,
                          const char *meta, const char sha256[65], struct err *err);
/* PutObject with S3 Object Lock retention: x-amz-object-lock-mode COMPLIANCE and
 * x-amz-object-lock-retain-until-date (s3__retain_until of retain_until_us), with Content-MD5,
 * which S3 requires for such a PUT. The bucket must have Object Lock (s3__get_object_lock). */
int s3__put_object_retained(struct s3_client *c, const char *key, const void *data, size_t len,
                            int64_t retain_until_us, struct err *err);
/* CopyObject src -> dst (full keys in the bucket) with x-amz-metadata-directive REPLACE and
 * meta as the new object's x-amz-meta-stated, or, when meta is NULL or "", COPY: the copy
 * keeps src's metadata. A 200 whose body is an <Error> (S3 may fail a copy after
 * answering 200) is a failure. */
int s3__copy_object(struct s3_client *c, const char *src, const char *dst, const char *meta,
                    struct err *err);
/* GetObject (version_id may be NULL): appends the bytes to out (its ceiling applies:
 * ERR_TOO_LARGE). ERR_NOT_FOUND when absent. head may be NULL. */
int s3__get_object(struct s3_client *c, const char *key, const char *version_id, struct buf *out,
                   struct s3__objhead *head, struct err *err);
/* GetObject unless the object still has the ETag if_none_match (may be NULL): then S3 answers
 * 304, head->not_modified is set and nothing is appended. */
int s3__get_object_if(struct s3_client *c, const char *key, const char *version_id,
                      const char *if_none_match, struct buf *out, struct s3__objhead *head,
                      struct err *err);
int s3__head_object(struct s3_client *c, const char *key, struct s3__objhead *head,
                    struct err *err);
/* DeleteObject: 0 also when absent. In a versioned bucket it adds a delete marker. */
int s3__delete_object(struct s3_client *c, const char *key, struct err *err);
/* DeleteObject of one version (or delete marker) by its id: removed for good; 0 also when
 * absent. version_id NULL is s3__delete_object. */
int s3__delete_version(struct s3_client *c, const char *key, const char *version_id,
                       struct err *err);

struct s3__list_item {
    char key[OBJ_KEY_MAX]; /* full key in the bucket */
    uint64_t size;
    int64_t mtime_us;
    char version_id[128]; /* ListObjectVersions only */
    bool is_latest, is_delete_marker;
};
/* ListObjectsV2 of every key starting with prefix, ascending, following continuation tokens.
 * max_keys 0 means the server's page size; max_total stops after that many items (0: all).
 * A non-zero return from cb stops the walk and is returned. */
int s3__list_objects(struct s3_client *c, const char *prefix, int max_keys, size_t max_total,
                     int (*cb)(void *ctx, const struct s3__list_item *it), void *ctx,
                     struct err *err);
/* ListObjectVersions of keys starting with prefix (versions and delete markers). */
int s3__list_versions(struct s3_client *c, const char *prefix,
                      int (*cb)(void *ctx, const struct s3__list_item *it), void *ctx,
                      struct err *err);
/* GetBucketVersioning: *status gets "Enabled", "Suspended" or "" (never enabled). */
int s3__get_versioning(struct s3_client *c, char status[16], struct err *err);
int s3__put_versioning(struct s3_client *c, bool enabled, struct err *err);
/* GetObjectLockConfiguration: *enabled when the bucket has Object Lock enabled (it can only be
 * turned on when the bucket is created); false also when S3 answers that there is no such
 * configuration. */
int s3__get_object_lock(struct s3_client *c, bool *enabled, struct err *err);

/* ---- pure parts (unit-tested) */

/* One page of a ListObjectsV2 or ListObjectVersions answer. */
struct s3__list_page {
    bool is_truncated;
    char next_token[1024];             /* NextContinuationToken */
    char next_key_marker[OBJ_KEY_MAX]; /* NextKeyMarker (versions) */
    char next_version_marker[256];     /* NextVersionIdMarker (versions) */
};
/* Parses the XML answer of ListObjectsV2 (<Contents>) or ListObjectVersions (<Version>,
 * <DeleteMarker>), calling cb per item in document order. -1 with ERR_UNAVAILABLE when the
 * document is not a listing (truncated or garbled answer). */
int s3__parse_list(const char *xml, size_t len, struct s3__list_page *page,
                   int (*cb)(void *ctx, const struct s3__list_item *it), void *ctx,
                   struct err *err);
/* Text of the first <tag>…</tag> in xml (entities decoded) into out; -1 when absent or longer
 * than outsz-1. */
int s3__xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outsz);
/* Decodes the five XML entities and numeric character references in place; returns the new
 * length. Unknown entities are kept as they are. */
size_t s3__xml_unescape(char *s, size_t len);

/* true when an ObjectLockConfiguration document says <ObjectLockEnabled>Enabled. */
bool s3__parse_object_lock(const char *xml, size_t len);
/* The retain-until date S3 takes: ISO 8601 UTC in whole seconds, rounded up so the retention
 * is never shorter than asked ("2028-01-06T07:09:19Z"); out needs 32 bytes. */
void s3__retain_until(int64_t us, char out[32]);

/* x-amz-meta-* values must be ASCII without control characters: the meta string (JSON,
 * possibly UTF-8) is stored base64url without padding. decode returns -1 on anything else. */
char *s3__meta_encode(const char *meta);
int s3__meta_decode(const char *in, char *out, size_t outsz);

/* Retry policy: true for connection-level failures (curl_rc != 0, other than a body over the
 * caller's ceiling), 5xx, 429 and the S3 SlowDown code; false for other 4xx. */
bool s3__should_retry(int curl_rc, long status, const char *s3_code);
/* Delay before retry number attempt (0-based): full jitter over min(cap, base*2^attempt), or
 * the server's Retry-After (retry_after_ms >= 0), capped at cap_ms. rnd is a uniform random. */
long s3__backoff_ms(int attempt, long base_ms, long cap_ms, long retry_after_ms, uint32_t rnd);
/* "Fri, 24 May 2013 00:00:00 GMT" (Last-Modified) or "2013-05-24T00:00:00.000Z" -> µs. */
int s3__parse_time(const char *s, int64_t *us);

#endif
