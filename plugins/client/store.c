/* The client_jobs table: its migrations, reading and writing one job row (its payload in
 * client_payloads), its API.md JSON forms (Job and AssignedJob), and the counters that keep
 * /v1/admin/stats free of table scans. */
#include "client.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const aitbc_migration k_migrations[] = {
    {1, "CREATE TABLE client_jobs(seq INTEGER PRIMARY KEY, job_id TEXT NOT NULL UNIQUE,"
        " client TEXT NOT NULL, state TEXT NOT NULL, job_type TEXT NOT NULL, miner TEXT,"
        " payment TEXT NOT NULL, unit_type TEXT, payload TEXT NOT NULL, constraints TEXT NOT NULL,"
        " result TEXT, error TEXT, receipt TEXT, miner_sig TEXT, max_price INTEGER NOT NULL,"
        " unit_price INTEGER, price INTEGER, units INTEGER, attempt INTEGER NOT NULL,"
        " lease_ms INTEGER, created_ms INTEGER NOT NULL, assigned_ms INTEGER, started_ms INTEGER,"
        " completed_ms INTEGER, expires_ms INTEGER NOT NULL);"
        "CREATE INDEX client_jobs_state ON client_jobs(state, seq);"
        "CREATE INDEX client_jobs_client ON client_jobs(client, seq);"
        "CREATE INDEX client_jobs_miner ON client_jobs(miner, seq);"
        "CREATE INDEX client_jobs_running ON client_jobs(miner) WHERE state = 'RUNNING';"
        "CREATE INDEX client_jobs_lease ON client_jobs(lease_ms) WHERE state = 'RUNNING';"
        "CREATE INDEX client_jobs_ttl ON client_jobs(expires_ms)"
        " WHERE state IN ('QUEUED', 'RUNNING');"
        "CREATE INDEX client_jobs_done ON client_jobs(completed_ms);"
        "CREATE TABLE client_attempts(job_id TEXT NOT NULL, attempt INTEGER NOT NULL,"
        " miner TEXT NOT NULL, PRIMARY KEY(job_id, attempt)) WITHOUT ROWID;"
        "CREATE TABLE client_counters(name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE client_miner_stats(miner TEXT PRIMARY KEY, completed INTEGER NOT NULL,"
        " failed INTEGER NOT NULL, earned INTEGER NOT NULL) WITHOUT ROWID;"},
    /* dispatch scans the queue per job type: other types' backlog never hides a miner's work */
    {2, "CREATE INDEX client_jobs_queue ON client_jobs(job_type, seq) WHERE state = 'QUEUED';"},
    /* progress in millionths (the storage SDK has integers, and 6 decimals are plenty) */
    {3, "ALTER TABLE client_jobs ADD COLUMN progress_ppm INTEGER;"
        "ALTER TABLE client_jobs ADD COLUMN progress_ms INTEGER;"},
    /* jobs that run on a marketplace trade: only on its seller, ahead of that seller's queue */
    {4, "ALTER TABLE client_jobs ADD COLUMN trade_id TEXT;"
        "ALTER TABLE client_jobs ADD COLUMN seller TEXT;"
        "CREATE INDEX client_jobs_seller_queue ON client_jobs(seller, seq)"
        " WHERE state = 'QUEUED' AND seller IS NOT NULL;"
        "CREATE INDEX client_jobs_trade_running ON client_jobs(trade_id)"
        " WHERE state = 'RUNNING' AND trade_id IS NOT NULL;"},
    /* Less write amplification: only the per-minute stats read the completion index, and only
     * for COMPLETED jobs; submits, assignments and requeues no longer touch it. */
    {5, "DROP INDEX client_jobs_done;"
        "CREATE INDEX client_jobs_completed ON client_jobs(completed_ms)"
        " WHERE state = 'COMPLETED';"},
    /* Payloads (up to 16 MiB) out of the job rows: a column after a big one is read by walking
     * its overflow pages, so every sweep and dispatch scan paid for whole payloads. They move to
     * client_payloads, keyed by the job's seq (the rowid: no index of its own); payload_bytes
     * stays for the per-account limit, counted over QUEUED rows by client_jobs_client_queued
     * (state in it too: SQLite 3.40 reads the row for a partial index's own WHERE otherwise). */
    {6, "CREATE TABLE client_payloads(seq INTEGER PRIMARY KEY, payload TEXT NOT NULL);"
        "INSERT INTO client_payloads(seq, payload) SELECT seq, payload FROM client_jobs;"
        "ALTER TABLE client_jobs ADD COLUMN payload_bytes INTEGER NOT NULL DEFAULT 0;"
        "UPDATE client_jobs SET payload_bytes = length(CAST(payload AS BLOB));"
        "ALTER TABLE client_jobs DROP COLUMN payload;"
        "CREATE INDEX client_jobs_client_queued ON client_jobs(client, state, payload_bytes)"
        " WHERE state = 'QUEUED';"},
    /* The per-account limit read by one key instead of counting the account's QUEUED rows (which
     * made a submit cost grow with the queue): totals kept by every move in or out of QUEUED,
     * in the same transaction as the move. */
    {7, "CREATE TABLE client_queued(client TEXT PRIMARY KEY, jobs INTEGER NOT NULL,"
        " bytes INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT INTO client_queued(client, jobs, bytes) SELECT client, COUNT(*), SUM(payload_bytes)"
        " FROM client_jobs WHERE state = 'QUEUED' GROUP BY client;"
        "DROP INDEX client_jobs_client_queued;"},
    /* Several hosts on one database: a generation bumped by every move into QUEUED, in the
     * move's transaction, so a long-poll parked on one host learns of work queued on another
     * (jobs@1 queued_gen; aitbc/shared.h). Bumped only when the database is shared. */
    {8, "CREATE TABLE client_gen(name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT INTO client_gen(name, n) VALUES('queued', 0);"},
    /* A job has no miner until it is first assigned, so every submit wrote a (NULL, seq) entry
     * no query reads: every lookup by miner is miner = ?, which the partial index serves. */
    {9, "DROP INDEX client_jobs_miner;"
        "CREATE INDEX client_jobs_miner ON client_jobs(miner, seq) WHERE miner IS NOT NULL;"},
};

int cl_store_migrate(client_state *cs) {
    return cs->api->migrate(cs->ctx, k_migrations, sizeof k_migrations / sizeof k_migrations[0]);
}

void cl_job_free(cl_job *j) {
    free(j->payload);
    free(j->constraints);
    free(j->result);
    free(j->error);
    free(j->receipt);
    free(j->miner_sig);
    memset(j, 0, sizeof *j);
}

static char *dup_col(client_state *cs, aitbc_stmt *s, int col) {
    const char *t = cs->api->col_text(s, col);
    return t ? strdup(t) : NULL;
}

/* Truncates like snprintf, without its format parsing (nine columns per job row read). */
static void copy_col(client_state *cs, aitbc_stmt *s, int col, char *out, size_t cap) {
    const char *t = cs->api->col_text(s, col);
    size_t n = t ? strnlen(t, cap - 1) : 0;
    if (n) memcpy(out, t, n);
    out[n] = '\0';
}

static int64_t int_col(client_state *cs, aitbc_stmt *s, int col) {
    return cs->api->col_is_null(s, col) ? -1 : cs->api->col_int64(s, col);
}

void cl_job_read(client_state *cs, aitbc_stmt *s, cl_job *j) {
    memset(j, 0, sizeof *j);
    j->seq = cs->api->col_int64(s, 0);
    copy_col(cs, s, 1, j->job_id, sizeof j->job_id);
    copy_col(cs, s, 2, j->client, sizeof j->client);
    copy_col(cs, s, 3, j->state, sizeof j->state);
    copy_col(cs, s, 4, j->job_type, sizeof j->job_type);
    copy_col(cs, s, 5, j->miner, sizeof j->miner);
    copy_col(cs, s, 6, j->payment, sizeof j->payment);
    copy_col(cs, s, 7, j->unit_type, sizeof j->unit_type);
    j->constraints = dup_col(cs, s, 8);
    j->result = dup_col(cs, s, 9);
    j->error = dup_col(cs, s, 10);
    j->receipt = dup_col(cs, s, 11);
    j->miner_sig = dup_col(cs, s, 12);
    j->max_price = int_col(cs, s, 13);
    j->unit_price = int_col(cs, s, 14);
    j->price = int_col(cs, s, 15);
    j->units = int_col(cs, s, 16);
    j->attempt = int_col(cs, s, 17);
    j->lease_ms = int_col(cs, s, 18);
    j->created_ms = int_col(cs, s, 19);
    j->assigned_ms = int_col(cs, s, 20);
    j->started_ms = int_col(cs, s, 21);
    j->completed_ms = int_col(cs, s, 22);
    j->expires_ms = int_col(cs, s, 23);
    j->progress_ppm = int_col(cs, s, 24);
    j->progress_ms = int_col(cs, s, 25);
    copy_col(cs, s, 26, j->trade_id, sizeof j->trade_id);
    copy_col(cs, s, 27, j->seller, sizeof j->seller);
    j->payload_bytes = int_col(cs, s, 28);
}

int cl_job_load(client_state *cs, aitbc_txn *t, const char *job_id, cl_job *j) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT " CL_JOB_COLS " FROM client_jobs WHERE job_id = ?1");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, job_id);
    int rc = api->step(s);
    if (rc == AITBC_ROW) cl_job_read(cs, s, j);
    api->stmt_done(s);
    return rc == AITBC_ROW ? 1 : rc == AITBC_DONE ? 0 : rc;
}

int cl_job_payload(client_state *cs, aitbc_txn *t, cl_job *j) {
    if (j->payload) return 0;
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT payload FROM client_payloads WHERE seq = ?1");
    if (!s) return AITBC_EIO;
    api->bind_int64(s, 1, j->seq);
    int rc = api->step(s);
    if (rc == AITBC_ROW) j->payload = dup_col(cs, s, 0);
    api->stmt_done(s);
    /* every job has its payload row: a missing one is a damaged database */
    if (rc == AITBC_ROW) return j->payload ? 0 : AITBC_ENOMEM;
    return rc < 0 ? rc : AITBC_EIO;
}

static void bind_opt_text(client_state *cs, aitbc_stmt *s, int idx, const char *v) {
    if (v && v[0])
        cs->api->bind_text(s, idx, v);
    else
        cs->api->bind_null(s, idx);
}

static void bind_opt_int(client_state *cs, aitbc_stmt *s, int idx, int64_t v) {
    if (v >= 0)
        cs->api->bind_int64(s, idx, v);
    else
        cs->api->bind_null(s, idx);
}

/* Binds ?1..?27 in CL_JOB_COLS order without seq and payload_bytes (which never change). */
static void bind_all(client_state *cs, aitbc_stmt *s, const cl_job *j) {
    const aitbc_host_api *api = cs->api;
    api->bind_text(s, 1, j->job_id);
    api->bind_text(s, 2, j->client);
    api->bind_text(s, 3, j->state);
    api->bind_text(s, 4, j->job_type);
    bind_opt_text(cs, s, 5, j->miner);
    api->bind_text(s, 6, j->payment);
    bind_opt_text(cs, s, 7, j->unit_type);
    api->bind_text(s, 8, j->constraints ? j->constraints : "{}");
    bind_opt_text(cs, s, 9, j->result);
    bind_opt_text(cs, s, 10, j->error);
    bind_opt_text(cs, s, 11, j->receipt);
    bind_opt_text(cs, s, 12, j->miner_sig);
    api->bind_int64(s, 13, j->max_price);
    bind_opt_int(cs, s, 14, j->unit_price);
    bind_opt_int(cs, s, 15, j->price);
    bind_opt_int(cs, s, 16, j->units);
    api->bind_int64(s, 17, j->attempt);
    bind_opt_int(cs, s, 18, j->lease_ms);
    api->bind_int64(s, 19, j->created_ms);
    bind_opt_int(cs, s, 20, j->assigned_ms);
    bind_opt_int(cs, s, 21, j->started_ms);
    bind_opt_int(cs, s, 22, j->completed_ms);
    api->bind_int64(s, 23, j->expires_ms);
    bind_opt_int(cs, s, 24, j->progress_ppm);
    bind_opt_int(cs, s, 25, j->progress_ms);
    bind_opt_text(cs, s, 26, j->trade_id);
    bind_opt_text(cs, s, 27, j->seller);
}

int cl_job_insert(client_state *cs, aitbc_txn *t, const cl_job *j) {
    const aitbc_host_api *api = cs->api;
    if (!j->payload) return AITBC_EINVAL;
    aitbc_stmt *s = api->stmt(
        t, "INSERT INTO client_jobs(job_id, client, state, job_type, miner, payment, unit_type, "
           "constraints, result, error, receipt, miner_sig, max_price, unit_price, price, units, "
           "attempt, lease_ms, created_ms, assigned_ms, started_ms, completed_ms, expires_ms, "
           "progress_ppm, progress_ms, trade_id, seller, payload_bytes) VALUES(?1,?2,?3,?4,?5,"
           "?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25,?26,?27,"
           "?28)");
    if (!s) return AITBC_EIO;
    bind_all(cs, s, j);
    api->bind_int64(s, 28, j->payload_bytes);
    int rc = api->step(s);
    api->stmt_done(s);
    if (rc < 0) return rc;
    /* Same transaction, keyed by the row's seq (its rowid: no index of its own to write). */
    s = api->stmt(t, "INSERT INTO client_payloads(seq, payload) "
                     "SELECT seq, ?2 FROM client_jobs WHERE job_id = ?1");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, j->job_id);
    api->bind_text(s, 2, j->payload);
    rc = api->step(s);
    int64_t n = rc >= 0 ? api->changes(s) : 0;
    api->stmt_done(s);
    return rc < 0 ? rc : n == 1 ? 0 : AITBC_EIO;
}

int cl_job_save(client_state *cs, aitbc_txn *t, const cl_job *j) {
    aitbc_stmt *s = cs->api->stmt(
        t, "UPDATE client_jobs SET client=?2, state=?3, job_type=?4, miner=?5, payment=?6, "
           "unit_type=?7, constraints=?8, result=?9, error=?10, receipt=?11, miner_sig=?12, "
           "max_price=?13, unit_price=?14, price=?15, units=?16, attempt=?17, lease_ms=?18, "
           "created_ms=?19, assigned_ms=?20, started_ms=?21, completed_ms=?22, expires_ms=?23, "
           "progress_ppm=?24, progress_ms=?25, trade_id=?26, seller=?27 WHERE job_id=?1");
    if (!s) return AITBC_EIO;
    bind_all(cs, s, j);
    int rc = cs->api->step(s);
    int64_t n = rc >= 0 ? cs->api->changes(s) : 0;
    cs->api->stmt_done(s);
    return rc < 0 ? rc : n == 1 ? 0 : AITBC_ENOTFOUND;
}

static void add_time(cJSON *o, const char *key, int64_t ms) {
    if (ms < 0) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    char buf[AITBC_TIME_MAX];
    aitbc_time_format(ms, buf);
    cJSON_AddStringToObject(o, key, buf);
}

static void add_money_opt(cJSON *o, const char *key, int64_t v) {
    if (v < 0)
        cJSON_AddNullToObject(o, key);
    else
        aitbc_json_add_money(o, key, v, JC_AIT_DECIMALS);
}

/* raw: the stored text goes out as it is instead of parsed into a tree and printed again. The
 * same bytes either way: every column read here holds aitbc_json_canonical or aitbc_json_print
 * output, which that printer reproduces exactly from its own parse. */
static void add_json_text(cJSON *o, const char *key, const char *text, int empty_object, int raw) {
    cJSON *v = !text ? NULL : raw && text[0] ? cJSON_CreateRaw(text) : cJSON_Parse(text);
    if (!v) v = empty_object ? cJSON_CreateObject() : cJSON_CreateNull();
    cJSON_AddItemToObject(o, key, v);
}

static cJSON *job_json(client_state *cs, const cl_job *j, int with_reason, int raw) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "job_id", j->job_id);
    cJSON_AddStringToObject(o, "state", j->state);
    add_json_text(o, "payload", j->payload, 1, raw);
    add_json_text(o, "constraints", j->constraints, 1, raw);
    cJSON_AddStringToObject(o, "client", j->client);
    aitbc_json_add_str(o, "assigned_miner", j->miner[0] ? j->miner : NULL);
    cJSON_AddNumberToObject(o, "attempt", (double)j->attempt);
    add_money_opt(o, "max_price", j->max_price);
    add_money_opt(o, "unit_price", j->unit_price);
    add_money_opt(o, "price", j->price);
    cJSON_AddStringToObject(o, "payment_status", j->payment);
    const char *reason = NULL;
    if (strcmp(j->state, "QUEUED") == 0) {
        reason = "queued";
        const aitbc_miners_v1 *m = with_reason ? cl_miners(cs) : NULL;
        if (with_reason && j->trade_id[0]) {
            reason = cl_trade_reason(cs, j);
        } else if (m) {
            cJSON *c = j->constraints ? cJSON_Parse(j->constraints) : NULL;
            reason = m->pending_reason(m->self, j->job_type, c, j->max_price);
            cJSON_Delete(c);
        } else if (with_reason) {
            reason = "no_miner_online";
        }
    }
    aitbc_json_add_str(o, "pending_reason", reason);
    add_time(o, "created_at", j->created_ms);
    add_time(o, "assigned_at", j->assigned_ms);
    add_time(o, "completed_at", j->completed_ms);
    add_time(o, "expires_at", j->expires_ms);
    add_json_text(o, "result", j->result, 0, raw);
    add_json_text(o, "error", j->error, 0, raw);
    if (strcmp(j->state, "COMPLETED") == 0)
        cJSON_AddNumberToObject(o, "progress", 1);
    else if (j->progress_ppm >= 0)
        cJSON_AddNumberToObject(o, "progress", (double)j->progress_ppm / 1e6);
    else
        cJSON_AddNullToObject(o, "progress");
    return o;
}

cJSON *cl_job_json(client_state *cs, const cl_job *j, int with_reason) {
    return job_json(cs, j, with_reason, 0);
}

cJSON *cl_job_answer(client_state *cs, const cl_job *j) {
    return job_json(cs, j, 1, 1);
}

cJSON *cl_assigned_json(client_state *cs, aitbc_txn *t, cl_job *j) {
    if (cl_job_payload(cs, t, j) != 0) return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "job_id", j->job_id);
    cJSON_AddNumberToObject(o, "attempt", (double)j->attempt);
    add_json_text(o, "payload", j->payload, 1, 0);
    add_json_text(o, "constraints", j->constraints, 1, 0);
    add_time(o, "lease_expires_at", j->lease_ms);
    add_money_opt(o, "unit_price", j->unit_price);
    add_money_opt(o, "max_price", j->max_price);
    return o;
}

int cl_counter_add(client_state *cs, aitbc_txn *t, const char *name, int64_t delta) {
    aitbc_stmt *s =
        cs->api->stmt(t, "INSERT INTO client_counters(name, n) VALUES(?1, ?2) "
                         "ON CONFLICT(name) DO UPDATE SET n = client_counters.n + excluded.n");
    if (!s) return AITBC_EIO;
    cs->api->bind_text(s, 1, name);
    cs->api->bind_int64(s, 2, delta);
    int rc = cs->api->step(s);
    cs->api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

int cl_queued_add(client_state *cs, aitbc_txn *t, const char *client, int64_t jobs, int64_t bytes) {
    aitbc_stmt *s = cs->api->stmt(
        t, "INSERT INTO client_queued(client, jobs, bytes) VALUES(?1, ?2, ?3) "
           "ON CONFLICT(client) DO UPDATE SET jobs = client_queued.jobs + excluded.jobs, "
           "bytes = client_queued.bytes + excluded.bytes");
    if (!s) return AITBC_EIO;
    cs->api->bind_text(s, 1, client);
    cs->api->bind_int64(s, 2, jobs);
    cs->api->bind_int64(s, 3, bytes);
    int rc = cs->api->step(s);
    cs->api->stmt_done(s);
    /* Every move into QUEUED passes here: the queued generation other hosts watch. */
    if (rc >= 0 && jobs > 0) rc = aitbc_gen_bump(cs->api, t, CL_GEN_TABLE, CL_GEN_QUEUED);
    return rc < 0 ? rc : 0;
}

int cl_queued_get(client_state *cs, aitbc_txn *t, const char *client, int64_t *jobs,
                  int64_t *bytes) {
    aitbc_stmt *s = cs->api->stmt(t, "SELECT jobs, bytes FROM client_queued WHERE client = ?1");
    if (!s) return AITBC_EIO;
    cs->api->bind_text(s, 1, client);
    int rc = cs->api->step(s);
    *jobs = rc == AITBC_ROW ? cs->api->col_int64(s, 0) : 0;
    *bytes = rc == AITBC_ROW ? cs->api->col_int64(s, 1) : 0;
    cs->api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

int cl_miner_stat_add(client_state *cs, aitbc_txn *t, const char *miner, int64_t completed,
                      int64_t failed, int64_t earned) {
    aitbc_stmt *s = cs->api->stmt(
        t, "INSERT INTO client_miner_stats(miner, completed, failed, earned) VALUES(?1,?2,?3,?4) "
           "ON CONFLICT(miner) DO UPDATE SET"
           " completed = client_miner_stats.completed + excluded.completed,"
           " failed = client_miner_stats.failed + excluded.failed,"
           " earned = client_miner_stats.earned + excluded.earned");
    if (!s) return AITBC_EIO;
    cs->api->bind_text(s, 1, miner);
    cs->api->bind_int64(s, 2, completed);
    cs->api->bind_int64(s, 3, failed);
    cs->api->bind_int64(s, 4, earned);
    int rc = cs->api->step(s);
    cs->api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

const aitbc_marketplace_v1 *cl_market(client_state *cs) {
    const aitbc_marketplace_v1 *m = atomic_load(&cs->market);
    if (!m) {
        m = cs->api->service_lookup(AITBC_MARKETPLACE_SERVICE);
        if (m && m->size < offsetof(aitbc_marketplace_v1, trade_use) + sizeof(void *)) m = NULL;
        if (m) atomic_store(&cs->market, m);
    }
    return m;
}

const aitbc_miners_v1 *cl_miners(client_state *cs) {
    const aitbc_miners_v1 *m = atomic_load(&cs->miners);
    if (!m) {
        m = cs->api->service_lookup(AITBC_MINERS_SERVICE);
        if (m) atomic_store(&cs->miners, m);
    }
    return m;
}
