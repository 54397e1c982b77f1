/* Shared helpers of the marketplace integration tests: the host config (auth-static keys for
 * an admin, clients and miners; chain; explorer; marketplace with a 200 ms hour), requests,
 * error checks, balances from the explorer, minting, conservation and --verify-chain. */
#ifndef MK_TH_H
#define MK_TH_H

#include <stdint.h>
#include "harness.h"

#define ADMIN "ait1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ALICE "ait1a11ce00000000000000000000000000000000000"
#define BOB "ait1b0b0000000000000000000000000000000000000"
#define M1 "ait1e1e1000000000000000000000000000000000001"
#define M2 "ait1e2e2000000000000000000000000000000000002"
/* Buyers of the oversell race: ait1c0…0N, keys k-c0 … k-c7. */
#define MK_RACERS 8
#define MK_HOUR_MS 200

extern th_host *H;
/** Admin key mk_balance and mk_mint use ("k-admin" unless a test sets another). */
extern const char *mk_admin_key;

/** Start the host (group setup); 0 or -1. */
int mk_start(void);
void mk_stop(void);
/** Address of racer i ("ait1c0…0i"). */
const char *mk_racer(int i);

long mk_req(const char *method, const char *path, const char *key, const char *body, th_resp *r);
long mk_req_idem(const char *path, const char *key, const char *body, const char *idem, th_resp *r);
const char *jstr(const cJSON *o, const char *k);
int64_t jint(const cJSON *o, const char *k);
/** Fail unless the answer is status with error code (and field when non-NULL). */
void mk_expect_error(const char *method, const char *path, const char *key, const char *body,
                     long status, const char *code, const char *field);
/** AIT base units of an address: available and locked (explorer). */
void mk_balance(const char *addr, int64_t *available, int64_t *locked);
/** Parse an AIT amount string into base units (fails the test if malformed). */
int64_t mk_units(const char *amount);
/** Mint AIT (decimal string) to addr; adds to the running total of minted units. */
void mk_mint(const char *addr, const char *amount);
int64_t mk_minted(void);
/** Post an offer by key with the given price and hours; returns the offer JSON (caller frees). */
cJSON *mk_offer(const char *key, const char *gpu, int mem, const char *region, const char *price,
                int hours);
/** Sum of available + locked over every address the tests use. */
int64_t mk_total_held(void);
/** Exit status of aitbc-host --verify-chain on the test's config. */
int mk_verify_chain(void);

#endif
