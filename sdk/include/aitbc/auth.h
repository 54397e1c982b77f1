/* The auth@1 service: API key → principal, key creation and revocation, rate limits.
 * The host calls authenticate() before every non-public route; plugins call the rest. */
#ifndef AITBC_AUTH_H
#define AITBC_AUTH_H

#include <stdint.h>
#include <stddef.h>
#include "http.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AITBC_AUTH_SERVICE "auth@1"
/** Bus topic an auth backend may own (admin only): a key was revoked. */
#define AITBC_TOPIC_KEY_REVOKED "key_revoked"
/** Longest API key text including NUL: aitbc_<role>_<key_id>_<secret>. */
#define AITBC_API_KEY_MAX 160

/**
 * Threads: authenticate is called by the host on HTTP threads for every authenticated request
 * (and by the WebSocket bridge on its service thread), concurrently: it must be thread-safe and
 * must not block for long (a cache in front of the database; never a network call). The key
 * calls run on the caller's thread and may block on the database. Pointers are borrowed for the
 * call; out buffers are the caller's.
 * txn (see aitbc/txn.h): non-NULL joins the caller's transaction (open on the calling thread);
 * the call never commits or rolls it back and on an error the caller rolls back. NULL: the call
 * is a unit of its own (committed on success, nothing of it kept on failure).
 */
typedef struct aitbc_auth_v1 {
    uint32_t size; /**< sizeof(aitbc_auth_v1) of the provider */
    void *self;    /**< first argument of every call */
    /** Check a key. 0 and *out filled; AITBC_EAUTH (missing/unknown/revoked); AITBC_ERATE with
     *  *retry_after_s set (per key or, for failed attempts, per remote address).
     *  @param api_key may be NULL (missing header). */
    int (*authenticate)(void *self, const char *api_key, const char *remote_addr,
                        aitbc_principal *out, int *retry_after_s);
    /** Create a key of role (one AITBC_ROLE_* bit) for owner_address (NULL: backend decides,
     *  e.g. a new custodial account). Joins txn if non-NULL. api_key_out gets the only copy of
     *  the secret key text; key_id_out/address_out its id and owner. */
    int (*create_key)(void *self, aitbc_txn *txn, unsigned role, const char *label,
                      const char *owner_address, char api_key_out[AITBC_API_KEY_MAX],
                      char key_id_out[48], char address_out[48]);
    /** Revoke a key at once (AITBC_ENOTFOUND if unknown). Joins txn if non-NULL. */
    int (*revoke_key)(void *self, aitbc_txn *txn, const char *key_id);
    /** Revoke every key of an owner address with the given role (miner key rotation). */
    int (*revoke_owner)(void *self, aitbc_txn *txn, const char *owner_address, unsigned role);
} aitbc_auth_v1;

#ifdef __cplusplus
}
#endif

#endif
