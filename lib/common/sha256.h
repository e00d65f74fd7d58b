/* SHA-256 (FIPS 180-4), used for content-derived reading ids. */
#ifndef BPPIPE_SHA256_H
#define BPPIPE_SHA256_H

#include <stddef.h>
#include <stdint.h>

void bp_sha256(const void *data, size_t len, uint8_t out[32]);
/* "sha256:" followed by the first `hex_chars` hex digits (even, <= 64) into out. */
void bp_sha256_id(const void *data, size_t len, int hex_chars, char *out, size_t out_len);

#endif
