/* Helpers of the miner agent's integration tests (agent_th.h). */
#include "agent_th.h"
#include "jobs_core.h"

#include <aitbc/util.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

th_host *at_miner_with(th_host *coord, const char *agent_extra, const char *backend_yaml) {
    char plugins[2048];
    snprintf(plugins, sizeof plugins,
             "  miner-agent: { coordinator_url: \"http://127.0.0.1:%d\"%s%s }\n%s",
             th_http_port(coord), agent_extra && *agent_extra ? ", " : "",
             agent_extra ? agent_extra : "", backend_yaml);
    return th_start(plugins, NULL);
}

th_host *at_miner(th_host *coord, const char *agent_extra) {
    return at_miner_with(coord, agent_extra, "  compute-test: { models: [\"tiny\"] }\n");
}

int at_pair_start(th_host **coord, th_host **miner, char address[48], const char *agent_extra,
                  const char *backend_yaml) {
    *miner = NULL;
    *coord = jt_start("heartbeat_interval_s: 2, lease_s: 10, max_attempts: 2, sweep_ms: 100");
    if (!*coord) return -1;
    *miner = at_miner_with(*coord, agent_extra, backend_yaml);
    if (!*miner) return -1;
    at_address(*miner, address);
    jt_track(address);
    return at_wait_miner(*coord, address, "ONLINE", 20000) ? 0 : -1;
}

int at_pair_stop(th_host *coord, th_host *miner) {
    int rc = 0;
    if (miner) rc |= th_stop(miner);
    th_free(miner);
    if (coord) rc |= th_stop(coord);
    th_free(coord);
    return rc == 0 ? 0 : -1;
}

void at_address(th_host *miner, char out[48]) {
    char path[1024], hex[80] = "";
    unsigned char seed[32];
    jc_key key;
    out[0] = '\0';
    snprintf(path, sizeof path, "%s/miner.key", th_data_dir(miner));
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(hex, sizeof hex, f)) hex[0] = '\0';
    fclose(f);
    hex[strcspn(hex, "\r\n")] = '\0';
    if (aitbc_hex_decode(hex, seed, 32) != 0) return;
    jc_key_from_seed(seed, &key);
    aitbc_address_from_pubkey(key.pk, out);
}

int at_spooled(th_host *miner) {
    char path[1024];
    snprintf(path, sizeof path, "%s/miner-spool", th_data_dir(miner));
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        n += len > 5 && strcmp(e->d_name + len - 5, ".json") == 0;
    }
    if (d) closedir(d);
    return n;
}

static int unspooled(void *m) {
    return at_spooled(m) == 0;
}

int at_wait_unspooled(th_host *miner, int timeout_ms) {
    return th_wait_until(unspooled, miner, timeout_ms);
}

cJSON *at_get_json(th_host *h, const char *path, const char *api_key) {
    th_resp r;
    if (th_req(h, "GET", path, api_key, NULL, &r) != 0 || r.status != 200) {
        th_resp_free(&r);
        return NULL;
    }
    cJSON *j = r.json;
    r.json = NULL;
    th_resp_free(&r);
    return j;
}

long at_cancel(th_host *coord, const jt_client *c, const char *job_id) {
    char path[160];
    th_resp r;
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", job_id);
    long st = th_req(coord, "POST", path, c->key, NULL, &r) == 0 ? r.status : 0;
    th_resp_free(&r);
    return st;
}

cJSON *at_miner_record(th_host *coord, const char *address) {
    char path[160];
    snprintf(path, sizeof path, "/v1/miners/%s", address);
    return at_get_json(coord, path, jt_admin(coord));
}

typedef struct miner_q {
    th_host *coord;
    const char *address, *status;
} miner_q;

static int miner_is(void *p) {
    miner_q *q = p;
    cJSON *m = at_miner_record(q->coord, q->address);
    int ok = m && strcmp(jt_str(m, "status"), q->status) == 0;
    cJSON_Delete(m);
    return ok;
}

int at_wait_miner(th_host *coord, const char *address, const char *status, int timeout_ms) {
    miner_q q = {coord, address, status};
    return th_wait_until(miner_is, &q, timeout_ms);
}

typedef struct job_q {
    th_host *coord;
    const char *id, *state, *miner;
} job_q;

static int job_is(void *p) {
    job_q *q = p;
    cJSON *j = jt_job(q->coord, q->id, 0);
    const char *m = jt_str(j, "assigned_miner");
    int ok =
        strcmp(jt_str(j, "state"), q->state) == 0 && (!q->miner || (m && strcmp(m, q->miner) == 0));
    cJSON_Delete(j);
    return ok;
}

int at_wait_job(th_host *coord, const char *job_id, const char *state, const char *miner,
                int timeout_ms) {
    job_q q = {coord, job_id, state, miner};
    if (th_wait_until(job_is, &q, timeout_ms)) return 1;
    cJSON *j = jt_job(coord, job_id, 0);
    char *text = cJSON_PrintUnformatted(j);
    fprintf(stderr, "job %s never became %s (miner %s): %s\n", job_id, state, miner ? miner : "any",
            text);
    free(text);
    cJSON_Delete(j);
    return 0;
}

int at_log_has(th_host *h, const char *text) {
    char *log = th_stderr(h);
    int found = log && strstr(log, text) != NULL;
    free(log);
    return found;
}

void at_submit(th_host *coord, const jt_client *c, const char *members, const char *max_price,
               char job_id[64]) {
    char body[4096];
    snprintf(body, sizeof body, "{\"payload\":{\"type\":\"test\"%s%s},\"max_price\":\"%s\"}",
             members && *members ? "," : "", members ? members : "", max_price);
    long st = jt_submit(coord, c, body, job_id);
    if (st != 201) {
        fprintf(stderr, "submit %s: %ld\n", body, st);
        abort();
    }
}
