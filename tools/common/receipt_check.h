/* The offline receipt check both `aitbc receipt verify` and `aitbc-host --verify-receipt` run:
 * read the receipt (and optional payload/result/job), take the coordinator key from a file or
 * fetch it from a node, and hand everything to the SDK verifier. Creates no files. */
#ifndef AITBC_TOOLS_RECEIPT_CHECK_H
#define AITBC_TOOLS_RECEIPT_CHECK_H

#include <aitbc/receipt.h>

typedef struct at_check_args {
    const char *receipt_path; /**< a receipt, or an object with a "receipt" member */
    const char *key_source;   /**< FILE, or URL of a node (base URL or the public-key route) */
    const char *payload_path; /**< optional: the payload JSON */
    const char *result_path;  /**< optional: the result JSON (the error object for FAILED) */
    const char *job_path;     /**< optional: a Job JSON; supplies payload and result/error */
} at_check_args;

typedef struct at_verdict {
    int ok;              /**< 1 verified */
    char receipt_id[64]; /**< "?" when unknown */
    char reason[AITBC_RECEIPT_REASON_MAX + 256];
} at_verdict;

/** Run the check; the verdict always has a reason (one line). Returns 0 verified, 1 not. */
int at_check_receipt(const at_check_args *a, at_verdict *v);
/** The URL the key is fetched from: source as is when it ends in /v1/receipts/public-key, else
 *  source + "/v1/receipts/public-key". */
void at_key_url(const char *source, char *out, size_t cap);

#endif
