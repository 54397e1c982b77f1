/* Pure job logic shared by the client and miner plugins: submit validation, matching a
 * job to a miner, pricing, receipts and the signed texts of API.md. No database, no host calls,
 * so all of it is unit-tested with cmocka. */
#ifndef AITBC_JOBS_CORE_H
#define AITBC_JOBS_CORE_H

#include <aitbc/jobs.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define JC_AIT_DECIMALS 6
#define JC_TYPE_MAX 65
#define JC_DEFAULT_TTL_S 900
#define JC_MAX_TTL_S 86400

/** Fill an error (status, code, field may be NULL, printf message). Returns -1. */
int jc_fail(aitbc_jobs_error *err, unsigned status, const char *code, const char *field,
            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/** A validated POST /v1/jobs body. Pointers borrow from the parsed body. */
typedef struct jc_submit {
    const cJSON *payload; /**< object with a valid "type" */
    char job_type[JC_TYPE_MAX];
    const cJSON *constraints; /**< object or NULL */
    int64_t ttl_s;
    int64_t max_price; /**< AIT base units */
} jc_submit;

/** Validate a submit body. 0, or -1 with a 400 invalid_argument in err. */
int jc_parse_submit(const cJSON *body, jc_submit *out, aitbc_jobs_error *err);

/** Result of matching one job against one miner. */
enum { JC_MATCH_OK = 0, JC_MATCH_NO = 1, JC_MATCH_PRICE = 2 };
/** Does miner m fit job (type, constraints, max_price)? Draining/free slots are not looked at. */
int jc_match(const char *job_type, const cJSON *constraints, int64_t max_price,
             const aitbc_jobs_miner *m);

/** Money of a completion. price = min(units × unit_price, max_price) (overflow → max_price);
 *  fee = floor(price × fee_bps / 10000); payout = price − fee; refund = max_price − price. */
typedef struct jc_money {
    int64_t price, fee, payout, refund;
} jc_money;
int jc_price(int64_t units, int64_t unit_price, int64_t max_price, int64_t fee_bps, jc_money *out);

/** "aitbc-result-v1\n{job_id}\n{attempt}\n{result_sha256}\n{units}" into out. Length or -1. */
int jc_result_text(const char *job_id, int64_t attempt, const char *result_sha256, int64_t units,
                   char *out, size_t cap);
/** "aitbc-register\n{public_key}\n{timestamp}" into out. Length or -1. */
int jc_register_text(const char *public_key_hex, int64_t timestamp, char *out, size_t cap);

/** Coordinator signing key. */
typedef struct jc_key {
    unsigned char pk[32];
    unsigned char sk[64];
    char pk_hex[65];
    char key_id[17]; /**< first 16 hex of sha256(pk) */
} jc_key;
/** Load <path> (64 hex seed) or create it (0600). 0 or AITBC_E*. */
int jc_key_load_or_create(const char *path, jc_key *key);
/** Derive everything from a 32-byte seed. */
void jc_key_from_seed(const unsigned char seed[32], jc_key *key);

/** Adds coordinator_key_id and signature (over the canonical JSON of every other field) to r. */
int jc_receipt_sign(cJSON *r, const jc_key *key);
/** Verify a receipt's signature with a public key (hex). 0 or AITBC_ESIG / AITBC_EINVAL. */
int jc_receipt_verify(const cJSON *r, const char *pk_hex);

#endif
