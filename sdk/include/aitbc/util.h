/* Small helpers: base64url, hex, random prefixed ids, RFC 3339 time, addresses, signatures. */
#ifndef AITBC_UTIL_H
#define AITBC_UTIL_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/** base64url without padding. out needs 4*ceil(len/3)+1 bytes. @return chars written (no NUL). */
size_t aitbc_b64url_encode(const void *data, size_t len, char *out);
/** Decode base64url (no padding; padding tolerated). @return bytes written or -1 on bad input/too
 * long. */
long aitbc_b64url_decode(const char *text, void *out, size_t out_cap);
/** Lowercase hex. out needs 2*len+1. */
void aitbc_hex_encode(const void *data, size_t len, char *out);
/** Exactly 2*out_len lowercase/uppercase hex chars → bytes. 0 or AITBC_EINVAL. */
int aitbc_hex_decode(const char *text, void *out, size_t out_len);

/** Random id: prefix + "_" + 26 chars base32 (lowercase, 128 random bits from libsodium).
 *  e.g. aitbc_random_id("job", buf) → "job_…". out needs AITBC_ID_MAX. */
#define AITBC_ID_MAX 48
void aitbc_random_id(const char *prefix, char out[AITBC_ID_MAX]);

/** RFC 3339 UTC with milliseconds: "2026-11-29T03:00:00.123Z". out needs AITBC_TIME_MAX. */
#define AITBC_TIME_MAX 32
void aitbc_time_format(int64_t unix_ms, char out[AITBC_TIME_MAX]);
/** Parse RFC 3339 (Z or ±hh:mm offset, optional fraction) into unix ms. 0 or AITBC_EINVAL. */
int aitbc_time_parse(const char *text, int64_t *unix_ms);
/** Wall clock in ms. */
int64_t aitbc_now_ms(void);
/** Monotonic clock (immune to wall-clock jumps) in µs, for durations and deadlines. */
int64_t aitbc_mono_us(void);
/** The same in ms. */
int64_t aitbc_mono_ms(void);
/** The absolute time ms from now on clock_id (CLOCK_REALTIME for pthread_cond_timedwait's default,
 *  pthread_mutex_timedlock), for the timed waits that take a deadline, not a duration. clock_id is
 *  a clockid_t passed as int: plain C11 lacks the type. */
struct timespec aitbc_timespec_in(int clock_id, int64_t ms);

/** A growable byte buffer, always NUL-terminated once anything was appended (data may be NULL
 *  before): for collecting an answer or a stream piece by piece. Zero-initialise it. */
typedef struct aitbc_bytes {
    char *data;
    size_t len; /**< bytes held, not counting the NUL */
    size_t cap; /**< bytes allocated */
} aitbc_bytes;
/** Append n bytes unless len would pass max (then nothing is appended). 0, AITBC_EOVERFLOW (past
 *  max) or AITBC_ENOMEM. */
int aitbc_bytes_append(aitbc_bytes *b, const void *p, size_t n, size_t max);
/** Free the buffer and zero it. */
void aitbc_bytes_free(aitbc_bytes *b);

/** "ait1" + 40 hex of the first 20 bytes of BLAKE2b-256(pubkey). out needs 45 bytes. */
void aitbc_address_from_pubkey(const unsigned char pubkey[32], char out[48]);
/** 1 if text looks like an address (ait1 + 40 lowercase hex). */
int aitbc_address_valid(const char *text);
/** Verify an Ed25519 signature given as base64url over msg with a hex public key. 0 or AITBC_ESIG.
 */
int aitbc_ed25519_verify_b64(const char *pubkey_hex, const char *sig_b64url, const void *msg,
                             size_t msg_len);

#ifdef __cplusplus
}
#endif

#endif
