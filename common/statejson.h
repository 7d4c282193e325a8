/* common/statejson.h: validate a state body and read its top-level serial and lineage without
 * building a tree.
 *
 * A state can be hundreds of MB; jansson would allocate many times that. This is a strict
 * single-pass RFC 8259 validator over the bytes (UTF-8 checked, depth limited) that records the
 * top-level "serial" (a non-negative integer) and "lineage" (a string) of the root object.
 * Plain v4 states and OpenTofu-encrypted envelopes both have them. Fuzzed
 * (tests/fuzz/fuzz_statejson.c). */
#ifndef STATED_COMMON_STATEJSON_H
#define STATED_COMMON_STATEJSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct state_summary {
    uint64_t serial;
    char lineage[129]; /* unescaped; longer lineages are refused */
    int is_encrypted;  /* 1 when the root has "encryption_version" (OpenTofu) */
};

/* 0 when data is one JSON object with a numeric "serial" and a string "lineage" at top level;
 * else -1 with ERR_INVALID and a message naming the problem and its byte offset. */
int statejson_scan(const char *data, size_t len, struct state_summary *out, struct err *err);

/* Restore (common/staterewrite.c): copies data to out with every top-level "serial" value
 * replaced by new_serial, every other byte unchanged (lineage, formatting, key order and an
 * OpenTofu envelope's ciphertext are kept). data must pass statejson_scan (keys are compared
 * unescaped, as JSON readers do). out is reset first. ERR_INVALID when data is not a state. */
struct buf;
int statejson_rewrite_serial(const char *data, size_t len, uint64_t new_serial, struct buf *out,
                             struct err *err);

/* The outputs role's view (common/staterewrite.c): the root members terraform_remote_state
 * reads (version, terraform_version, serial, lineage, outputs, copied verbatim, sensitive
 * outputs included as remote_state exposes them) and an empty "resources". out is reset
 * first. ERR_INVALID when data is not a state, ERR_FORBIDDEN when it is OpenTofu-encrypted
 * (nothing can be separated from a ciphertext). */
int statejson_outputs_view(const char *data, size_t len, struct buf *out, struct err *err);

/* Redaction (common/staterewrite.c): copies data to out with every sensitive value replaced by
 * the string "(sensitive)" (STATEDIFF_MASK): the "value" of each output marked sensitive, and
 * in each resource instance the attribute values its "sensitive_attributes" name (the rule is
 * statediff_sensitivity's, common/statediff.h). Every other byte is kept. out is reset first.
 * ERR_INVALID when data is not a state, is OpenTofu-encrypted (nothing can be seen inside), or
 * has a duplicate key where sensitivity is decided (readers would disagree on it). */
int statejson_redact(const char *data, size_t len, struct buf *out, struct err *err);

#endif
