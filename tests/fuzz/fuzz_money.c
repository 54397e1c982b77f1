/* Fuzz target: money strings, RFC 3339 times and base64url (sdk/src/money.c, ids_time.c,
 * encoding.c) on the same hostile text. The first byte picks the decimals (0..18), the rest is
 * the text (a C string: an embedded NUL ends it). Invariants, abort() on violation:
 *  - money: what parses formats back to a string that parses to the same units; without
 *    trailing fractional zeros the formatted string is the input itself;
 *  - time: what parses formats back (when the year stays within 0000..9999) and re-parses to
 *    the same instant;
 *  - base64url: decoding never writes past the buffer it is given and reports a length within
 *    it; the decoded bytes encode and decode back to themselves. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aitbc/money.h"
#include "aitbc/util.h"

static void check_money(const char *text, int decimals) {
    int64_t units;
    if (aitbc_money_parse(text, decimals, &units) != 0) return;
    if (units < 0) abort();
    char out[AITBC_MONEY_MAX];
    int n = aitbc_money_format(units, decimals, out);
    if (n <= 0 || n >= AITBC_MONEY_MAX || (size_t)n != strlen(out)) abort();
    int64_t back;
    if (aitbc_money_parse(out, decimals, &back) != 0 || back != units) abort();
    size_t len = strlen(text);
    int trailing_zero = strchr(text, '.') && text[len - 1] == '0';
    if (!trailing_zero && strcmp(out, text) != 0) abort();
}

static void check_time(const char *text) {
    int64_t ms;
    if (aitbc_time_parse(text, &ms) != 0) return;
    char out[AITBC_TIME_MAX];
    aitbc_time_format(ms, out);
    if (strlen(out) != 24 || out[0] < '0' || out[0] > '9' || out[4] != '-')
        return; /* a year outside 0000..9999 after the offset ("-001-12-31T…"): not RFC 3339 */
    int64_t back;
    if (aitbc_time_parse(out, &back) != 0 || back != ms) abort();
}

static void check_b64(const char *text, size_t len) {
    size_t cap = len * 3 / 4 + 1;
    /* An exact-size heap buffer: ASan catches a write past out_cap. */
    unsigned char *out = malloc(cap);
    if (!out) abort();
    long n = aitbc_b64url_decode(text, out, cap);
    if (n < -1 || n > (long)cap) abort();
    /* A too-small buffer must be refused, not overrun. */
    if (n > 1) {
        unsigned char *small = malloc((size_t)n - 1);
        if (!small || aitbc_b64url_decode(text, small, (size_t)n - 1) != -1) abort();
        free(small);
    }
    if (n > 0) {
        char *enc = malloc(4 * (((size_t)n + 2) / 3) + 1);
        unsigned char *round = malloc((size_t)n);
        if (!enc || !round) abort();
        size_t elen = aitbc_b64url_encode(out, (size_t)n, enc);
        if (elen != strlen(enc)) abort();
        if (aitbc_b64url_decode(enc, round, (size_t)n) != n || memcmp(round, out, (size_t)n))
            abort();
        free(enc);
        free(round);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int decimals = data[0] % 19;
    char *text = malloc(size);
    if (!text) abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    check_money(text, decimals);
    check_time(text);
    check_b64(text, strlen(text));
    free(text);
    return 0;
}
