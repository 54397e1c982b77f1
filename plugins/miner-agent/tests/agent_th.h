/* Helpers of the miner agent's integration tests: miner nodes (a second aitbc-host running
 * miner-agent + the compute-test backend) pointed at a coordinator host, and waits on what the
 * coordinator says about miners and jobs. */
#ifndef AITBC_AGENT_TH_H
#define AITBC_AGENT_TH_H

#include "jobs_th.h"
#include <aitbc/util.h>

/** Start a miner node for coordinator coord: miner-agent with coordinator_url set and the
 *  members in agent_extra (YAML flow-map text, e.g. "concurrency: 2, unit_price: \"0.5\"",
 *  may be NULL), and compute-test advertising model "tiny". */
th_host *at_miner(th_host *coord, const char *agent_extra);
/** As at_miner, with backend_yaml (plugin sections, each line "  name: ...\n") in place of
 *  compute-test. */
th_host *at_miner_with(th_host *coord, const char *agent_extra, const char *backend_yaml);
/** The two processes the backend end-to-end tests share: a coordinator with short leases and two
 *  attempts per job, and a miner node for it (at_miner_with), tracked for jt_conserved. Waits until
 *  the coordinator shows the miner ONLINE. 0, or -1 (whatever started is left for at_pair_stop). */
int at_pair_start(th_host **coord, th_host **miner, char address[48], const char *agent_extra,
                  const char *backend_yaml);
/** Stops and removes both; 0 if both exited cleanly. NULLs are skipped. */
int at_pair_stop(th_host *coord, th_host *miner);
/** The miner node's address, derived from its <data_dir>/miner.key. */
void at_address(th_host *miner, char out[48]);
/** Number of results waiting in the miner node's spool (<data_dir>/miner-spool/ *.json). */
int at_spooled(th_host *miner);
/** GET path (with api_key, may be NULL): the JSON of a 200 answer, or NULL. Caller frees. */
cJSON *at_get_json(th_host *h, const char *path, const char *api_key);
/** POST /v1/jobs/{job_id}/cancel as the client; the HTTP status. */
long at_cancel(th_host *coord, const jt_client *c, const char *job_id);
/** Wait until the miner node's spool is empty (the coordinator records a completion before the
 *  agent reads its answer and removes the file). 1 if it became empty. */
int at_wait_unspooled(th_host *miner, int timeout_ms);
/** The coordinator's record of a miner (admin GET /v1/miners/{address}), or NULL. Caller frees. */
cJSON *at_miner_record(th_host *coord, const char *address);
/** Wait until the coordinator shows the miner with status. 1 if it did. */
int at_wait_miner(th_host *coord, const char *address, const char *status, int timeout_ms);
/** Wait until the job is in state (and, if miner is not NULL, assigned to it). 1 if it was;
 *  otherwise prints the job. */
int at_wait_job(th_host *coord, const char *job_id, const char *state, const char *miner,
                int timeout_ms);
/** 1 if the host's stderr contains text. */
int at_log_has(th_host *h, const char *text);
/** Submit a "test" job with the given payload members (JSON text without braces, may be "")
 *  and max_price; returns 201 or fails the test. */
void at_submit(th_host *coord, const jt_client *c, const char *members, const char *max_price,
               char job_id[64]);

#endif
