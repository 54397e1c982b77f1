/* Exact decimal money: the wire's decimal strings ⇄ int64 base units, with overflow refused. */
#include "aitbc/money.h"
#include "aitbc/errors.h"

#include <string.h>

int aitbc_add_i64(int64_t a, int64_t b, int64_t *out) {
    return __builtin_add_overflow(a, b, out) ? AITBC_EOVERFLOW : 0;
}

int aitbc_mul_i64(int64_t a, int64_t b, int64_t *out) {
    return __builtin_mul_overflow(a, b, out) ? AITBC_EOVERFLOW : 0;
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Appends one decimal digit to *acc, refusing overflow. */
static int push_digit(int64_t *acc, char digit) {
    int64_t v;
    if (aitbc_mul_i64(*acc, 10, &v) != 0 || aitbc_add_i64(v, digit - '0', &v) != 0)
        return AITBC_EOVERFLOW;
    *acc = v;
    return 0;
}

int aitbc_money_parse(const char *text, int decimals, int64_t *out) {
    if (!text || decimals < 0 || decimals > 18) return AITBC_EINVAL;
    const char *p = text;
    if (!is_digit(*p)) return AITBC_EINVAL;               /* empty, sign, space, '.5' */
    if (*p == '0' && is_digit(p[1])) return AITBC_EINVAL; /* leading zero */
    int64_t units = 0;
    int overflow = 0;
    for (; is_digit(*p); p++)
        overflow |= push_digit(&units, *p) != 0;
    int frac = 0;
    if (*p == '.') {
        p++;
        if (!is_digit(*p)) return AITBC_EINVAL; /* "1." */
        for (; is_digit(*p); p++, frac++) {
            if (frac >= decimals) return AITBC_EINVAL; /* more decimals than the asset has */
            overflow |= push_digit(&units, *p) != 0;
        }
    }
    if (*p != '\0') return AITBC_EINVAL; /* exponent, trailing garbage, space */
    for (; frac < decimals; frac++)
        overflow |= push_digit(&units, '0') != 0;
    if (overflow) return AITBC_EOVERFLOW;
    *out = units;
    return 0;
}

int aitbc_money_format(int64_t units, int decimals, char out[AITBC_MONEY_MAX]) {
    if (units < 0 || decimals < 0 || decimals > 18) return AITBC_EINVAL;
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + units % 10);
        units /= 10;
    } while (units > 0);
    while (n <= decimals)
        digits[n++] = '0'; /* at least one integer digit */
    /* digits[] holds the number reversed; the lowest `decimals` of them are the fraction. */
    int frac_end = 0;
    while (frac_end < decimals && digits[frac_end] == '0')
        frac_end++; /* trailing zeros of the fraction are dropped */
    int len = 0;
    for (int i = n - 1; i >= decimals; i--)
        out[len++] = digits[i];
    if (frac_end < decimals) {
        out[len++] = '.';
        for (int i = decimals - 1; i >= frac_end; i--)
            out[len++] = digits[i];
    }
    out[len] = '\0';
    return len;
}
