/* Addresses derived from Ed25519 public keys, and signature checks on wire-format values. */
#include "aitbc/util.h"
#include "aitbc/errors.h"

#include <sodium.h>
#include <string.h>

void aitbc_address_from_pubkey(const unsigned char pubkey[32], char out[48]) {
    unsigned char digest[32];
    crypto_generichash(digest, sizeof digest, pubkey, 32, NULL, 0);
    memcpy(out, "ait1", 4);
    aitbc_hex_encode(digest, 20, out + 4);
}

int aitbc_address_valid(const char *text) {
    if (!text || strncmp(text, "ait1", 4) != 0 || strlen(text) != 44) return 0;
    for (const char *p = text + 4; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    return 1;
}

int aitbc_ed25519_verify_b64(const char *pubkey_hex, const char *sig_b64url, const void *msg,
                             size_t msg_len) {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES + 1];
    if (!pubkey_hex || !sig_b64url || aitbc_hex_decode(pubkey_hex, pk, sizeof pk) != 0)
        return AITBC_ESIG;
    if (aitbc_b64url_decode(sig_b64url, sig, sizeof sig) != crypto_sign_BYTES) return AITBC_ESIG;
    if (sodium_init() < 0) return AITBC_ESIG;
    return crypto_sign_verify_detached(sig, msg, msg_len, pk) == 0 ? 0 : AITBC_ESIG;
}
