/* SHA-256 (FIPS 180-4), used for content-derived reading ids. */
#ifndef BPPIPE_SHA256_H
#define BPPIPE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* With the x86 SHA extensions where the CPU has them (asked once), else portable C: the same
 * digest either way. */
void bp_sha256(const void *data, size_t len, uint8_t out[32]);
/* The portable C alone (the tests compare the two), and whether bp_sha256 uses the extensions. */
void bp_sha256_portable(const void *data, size_t len, uint8_t out[32]);
bool bp_sha256_accelerated(void);
/* "sha256:" followed by the first `hex_chars` hex digits (even, <= 64) into out. */
void bp_sha256_id(const void *data, size_t len, int hex_chars, char *out, size_t out_len);

#endif
