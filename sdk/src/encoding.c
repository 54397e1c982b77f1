/* base64url (no padding) and hex: the text forms of signatures, keys and hashes. */
#include "aitbc/util.h"
#include "aitbc/errors.h"

#include <string.h>

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t aitbc_b64url_encode(const void *data, size_t len, char *out) {
    const unsigned char *in = data;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len) v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        if (i + 1 < len) out[o++] = b64url_alphabet[(v >> 6) & 63];
        if (i + 2 < len) out[o++] = b64url_alphabet[v & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

long aitbc_b64url_decode(const char *text, void *out, size_t out_cap) {
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == '=')
        len--;
    if (len % 4 == 1) return -1;
    unsigned char *o = out;
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(text[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= out_cap) return -1;
            o[n++] = (unsigned char)(acc >> bits);
        }
    }
    /* Leftover bits must be zero, so every byte string has exactly one encoding. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return -1;
    return (long)n;
}

void aitbc_hex_encode(const void *data, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    const unsigned char *in = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int aitbc_hex_decode(const char *text, void *out, size_t out_len) {
    if (strlen(text) != 2 * out_len) return AITBC_EINVAL;
    unsigned char *o = out;
    for (size_t i = 0; i < out_len; i++) {
        int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return AITBC_EINVAL;
        o[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
