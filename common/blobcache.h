/* common/blobcache.h: the read cache of the object-store drivers (directory and S3).
 *
 * States are read far more often than written (every plan, every CI job), so the drivers keep
 * recently read objects as shared blobs: an answer being sent holds a reference, and any
 * number of answers of the same object hold the same bytes. An entry is found by its key and
 * used only while its validator still describes the object: the directory driver's is the
 * file's identity (device, inode, size, times), the S3 driver's the object's ETag, so a cached
 * entry is never served for an object that changed.
 *
 * Entries up to max_obj bytes share a budget of max_bytes, least recently used out first.
 * Larger ones (a state of hundreds of MB) count in no budget but stay only while an answer
 * still holds them: twenty slow readers share one copy, and once the last is done the memory
 * is returned.
 *
 * Readers that miss together do not all read: the first claims the key (blobcache_claim)
 * and loads it; the others wait for it and find its bytes cached. Thread-safe. */
#ifndef STATED_COMMON_BLOBCACHE_H
#define STATED_COMMON_BLOBCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct blobcache;

struct blobcache *blobcache_new(size_t max_entries, size_t max_bytes, size_t max_obj);
void blobcache_free(struct blobcache *bc); /* NULL-safe */

/* A new reference to key's bytes when its entry still has this validator (blob_unref it),
 * with the entry's meta copied to meta (cap bytes; "" when none was recorded); NULL when
 * there is no such entry. */
struct blob *blobcache_get(struct blobcache *bc, const char *key, const char *validator, char *meta,
                           size_t cap);
/* The validator of key's entry copied to out (for a conditional request); false when none. */
bool blobcache_validator(struct blobcache *bc, const char *key, char *out, size_t cap);
/* Remembers data (the cache takes its own reference) for key, with validator and meta (NULL
 * or "": not known yet), replacing any older entry of key. Returns a new reference to the
 * bytes readers should share: data, or the entry another reader cached meanwhile for the same
 * key and validator (then the caller's data goes as soon as it drops it). Releases the
 * caller's claim of key, if it has one. */
struct blob *blobcache_put(struct blobcache *bc, const char *key, const char *validator,
                           struct blob *data, const char *meta);
/* After a miss: true when the caller is to load key (then it must call blobcache_put or
 * blobcache_release), false when another reader was loading key and has finished meanwhile
 * (look again: its bytes are likely cached now). Waits while another reader loads key (at
 * most CLAIM_WAIT_MS, after which the caller loads it too). */
bool blobcache_claim(struct blobcache *bc, const char *key);
/* Gives up a claim without putting anything (the load failed). */
void blobcache_release(struct blobcache *bc, const char *key);
/* Records meta for key's entry when it still has validator and has none yet. */
void blobcache_set_meta(struct blobcache *bc, const char *key, const char *validator,
                        const char *meta);
void blobcache_drop(struct blobcache *bc, const char *key);

#endif
