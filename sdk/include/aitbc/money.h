/* Exact decimal money: strings like "12.5" ⇄ int64 base units, never floating point. */
#ifndef AITBC_MONEY_H
#define AITBC_MONEY_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest formatted amount: 19 digits + '.' + up to 18 decimals + NUL. */
#define AITBC_MONEY_MAX 48

/** Parse `^(0|[1-9][0-9]*)(\.[0-9]{1,decimals})?$` into base units (value × 10^decimals).
 *  @return 0, AITBC_EINVAL (syntax, sign, exponent, spaces, too many decimals) or AITBC_EOVERFLOW.
 */
int aitbc_money_parse(const char *text, int decimals, int64_t *out);
/** Shortest exact form ("12.5", "0"). units must be >= 0. @return chars written or AITBC_EINVAL. */
int aitbc_money_format(int64_t units, int decimals, char out[AITBC_MONEY_MAX]);
/** Overflow-checked helpers: 0 or AITBC_EOVERFLOW. */
int aitbc_add_i64(int64_t a, int64_t b, int64_t *out);
int aitbc_mul_i64(int64_t a, int64_t b, int64_t *out);

#ifdef __cplusplus
}
#endif

#endif
