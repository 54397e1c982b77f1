/* Job receipts as API.md defines them, checked by anyone: the exact texts the coordinator and
 * the miner sign, and an offline verifier that needs nothing but the receipt, the coordinator's
 * public key(s) and, optionally, the payload and result. No database, no host, no keys of its own,
 * no I/O: callers read files or fetch the key answer themselves. */
#ifndef AITBC_RECEIPT_H
#define AITBC_RECEIPT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/** Room for a verification reason line (always enough for what aitbc_receipt_verify writes). */
#define AITBC_RECEIPT_REASON_MAX 320

/** Canonical JSON (JCS, nulls removed) of every member of r except "signature": the bytes the
 *  coordinator signs. malloc'd (caller frees), NULL if r is not an object or on OOM. */
char *aitbc_receipt_signed_text(const cJSON *r);

/** "aitbc-result-v1\n{job_id}\n{attempt}\n{result_sha256}\n{units}", the text the miner signs.
 *  Length written, or -1 when it does not fit in cap. */
int aitbc_receipt_result_text(const char *job_id, int64_t attempt, const char *result_sha256,
                              int64_t units, char *out, size_t cap);

/** A coordinator key id: the first 16 hex characters of SHA-256(public key). */
void aitbc_receipt_key_id(const unsigned char public_key[32], char out[17]);

/** Coordinator keys from text a user hands over: the GET /v1/receipts/public-key answer
 *  ({"keys":[{"key_id","public_key",…}]}), one such key object, or 64 hex characters of a bare
 *  public key (surrounding whitespace ignored). Returns {"keys":[{"key_id","public_key",
 *  "status"}…]} with every key_id recomputed from its key (caller frees), or NULL with a one-line
 *  reason ("not a key: …", a key_id that does not match its public_key). */
cJSON *aitbc_receipt_keys_parse(const char *text, size_t len, char *reason, size_t cap);

/** Verify a receipt offline. receipt may also be an object with a "receipt" member (the answer of
 *  POST /v1/jobs/{id}/complete). keys: as aitbc_receipt_keys_parse returns. payload and result
 *  (each may be NULL) are checked against payload_sha256 / result_sha256 (for a FAILED receipt
 *  result is the error object). Checks, first failure wins: the shape of the receipt, the
 *  coordinator key named by coordinator_key_id, the coordinator signature, on COMPLETED the miner
 *  signature (with miner_public_key, which must hash to the miner address; receipts without it
 *  are reported as not miner-checked), then the hashes given.
 *  @return 0 when it verifies, AITBC_ESIG when a signature or hash does not match, AITBC_EINVAL
 *  when the input is not a receipt or names no given key. reason gets one line either way (no
 *  newline): what was checked, or what failed. */
int aitbc_receipt_verify(const cJSON *receipt, const cJSON *keys, const cJSON *payload,
                         const cJSON *result, char *reason, size_t cap);

#endif
