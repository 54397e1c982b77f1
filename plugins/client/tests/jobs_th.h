/* Helpers shared by the job integration tests and benches: a host with the job plugins, clients
 * with funded custodial accounts, and simulated miners that sign like real ones (libsodium). */
#ifndef AITBC_JOBS_TH_H
#define AITBC_JOBS_TH_H

#include "harness.h"
#include <cjson/cJSON.h>
#include <stdint.h>

#define JT_TREASURY "ait1eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

typedef struct jt_client {
    char key[192];
    char address[48];
} jt_client;

typedef struct jt_miner {
    unsigned char pk[32], sk[64];
    char pk_hex[65];
    char address[48];
    char key[192];
} jt_miner;

/** Start the host with auth-apikey, chain, explorer, client (fee 250 bps), miner, admin.
 *  miner_cfg is the body of the miner section ("heartbeat_interval_s: 1, ..."). */
th_host *jt_start(const char *miner_cfg);
/** Same with extra top-level YAML (e.g. an http section without the access log), for benches. */
th_host *jt_start_ex(const char *miner_cfg, const char *extra_yaml);
/** Same with extra client plugin settings (", progress_interval_ms: 200"; may be NULL). */
th_host *jt_start_client(const char *miner_cfg, const char *client_extra, const char *extra_yaml);
/** Same with more plugin sections ("  marketplace: {...}\n") after the job plugins. */
th_host *jt_start_full(const char *miner_cfg, const char *client_extra, const char *more_plugins,
                       const char *extra_yaml);
/** The plugins section the last jt_start* wrote (for th_run_once_in on its data dir). */
const char *jt_plugins_yaml(void);
/** The bootstrap admin key (read from <data_dir>/admin.key). */
const char *jt_admin(th_host *h);
/** A new client key with a custodial account holding `mint` AIT ("0" = nothing). */
void jt_client_new(th_host *h, const char *mint, jt_client *c);
/** New key pair + registration. caps is the capabilities JSON text. Returns the HTTP status. */
long jt_miner_register(th_host *h, jt_miner *m, const char *caps, int concurrency,
                       const char *unit_price);
/** Signed registration body for m at timestamp ts (caller frees). */
char *jt_register_body(const jt_miner *m, int64_t ts, const char *caps, int concurrency,
                       const char *unit_price);
/** POST poll (wait_s > 0) or heartbeat (wait_s < 0) with `running` ids text (JSON array or NULL).
 */
long jt_beat(th_host *h, const jt_miner *m, int wait_s, const char *running, th_resp *r);
/** Signed successful completion; units and result text (JSON object). */
long jt_complete(th_host *h, const jt_miner *m, const char *job_id, int64_t attempt,
                 const char *result, int64_t units, th_resp *r);
/** Submit a job; body text. Returns status; *job_id filled on 201. */
long jt_submit(th_host *h, const jt_client *c, const char *body, char job_id[64]);
/** GET /metrics (from loopback: no key) as text; caller frees. */
char *jt_scrape(th_host *h);
/** The value of the sample written exactly as series ("name{labels}") in text; NAN if absent. */
double jt_metric_in(const char *text, const char *series);
/** jt_metric_in on a fresh scrape. */
double jt_metric(th_host *h, const char *series);
/** Series the shipped Grafana dashboard and alert rules (contrib/) name (words aitbc_...) that
 *  the scrape text lacks, each printed; only names starting with prefix (with_prefix 1) or only
 *  the others (0). -1 if a file is unreadable or names none. */
int jt_unexported(const char *text, const char *prefix, int with_prefix);
/** Write a scrape to path (kept for a person to read) and lint it with `promtool check metrics`:
 *  0 clean, 1 not, 77 promtool is not installed (said on stderr). */
int jt_promtool_check(const char *text, const char *path);
/** Two exchange traders: seller holds 10 AIT, buyer 1 BTC (minted by the admin). */
void jt_exchange_pair(th_host *h, jt_client *seller, jt_client *buyer);
/** A limit order of 1 AIT at 0.001 BTC on AIT-BTC (exchange plugin); side "buy" or "sell".
 *  Returns the HTTP status (the body goes to stderr unless 201). */
long jt_exchange_order(th_host *h, const jt_client *c, const char *side);
/** Job JSON (caller frees) through GET as admin, waiting up to wait_s. */
cJSON *jt_job(th_host *h, const char *job_id, int wait_s);
/** Available and locked AIT of an address in base units (explorer). */
void jt_balance(th_host *h, const char *address, int64_t *available, int64_t *locked);
/** Same for any asset with `decimals` decimals (-1 for an amount that does not parse). */
void jt_balance_of(th_host *h, const char *address, const char *asset, int decimals,
                   int64_t *available, int64_t *locked);
/** Base units of a money string. */
int64_t jt_units(const char *money);
const char *jt_str(const cJSON *o, const char *key);
int64_t jt_int(const cJSON *o, const char *key);

/** Conservation: every address that may hold funds is tracked (clients, miners and the
 *  treasury are added by the helpers); returns 1 when the sum of available + locked over them
 *  equals everything minted, else prints the difference and returns 0. */
void jt_track(const char *address);
int jt_conserved(th_host *h);
/** Sum of locked AIT over tracked addresses (0 once every job is settled). */
int64_t jt_locked_total(th_host *h);
/** Run node's Ed25519 (independent of libsodium) on a receipt: 1 verifies, 0 not. */
int jt_node_verify(th_host *h, const cJSON *receipt);
/** Run `aitbc-host --verify-receipt` on a receipt: the exit status. */
int jt_cli_verify(th_host *h, const cJSON *receipt);
/** Run `<command> RECEIPT_FILE --public-key <h's URL>` (command: quoted shell words, e.g. the
 *  aitbc client's "'…/aitbc' receipt verify"): the exit status. */
int jt_verify_with(th_host *h, const cJSON *receipt, const char *command);

/** What a program run by jt_run printed, and how it ended. */
typedef struct jt_proc {
    int status;      /**< exit status, or -1 when it did not exit normally */
    char *out, *err; /**< everything it wrote (malloc'd, NUL-terminated) */
} jt_proc;
/** Run argv (argv[0] a path) in directory cwd (NULL = here) with env (NULL-terminated
 *  "NAME=value" list, may be NULL) set on top of ours minus every AITBC_* variable; stdin from
 *  in_path (NULL = /dev/null). Waits for it to end. */
void jt_run(const char *cwd, const char *const *argv, const char *const *env, const char *in_path,
            jt_proc *p);
void jt_proc_free(jt_proc *p);
/** A new empty directory under /tmp (the caller removes it). */
void jt_tmpdir(char out[256]);
/** Number of entries in dir (not counting . and ..), -1 if it cannot be read. */
int jt_dir_entries(const char *dir);

#endif
