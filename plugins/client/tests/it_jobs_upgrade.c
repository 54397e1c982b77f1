/* A database from before client migration 6 (payloads inside client_jobs) upgrades in place:
 * the host writes jobs (completed, queued with escrow, queued free), stops, and the test rewrites
 * the client tables to exactly the layout migrations 1-5 made (the fixture below: those steps'
 * DDL, payload in the middle of the row) and forgets step 6. The restarted host applies it;
 * every job reads back with its payload, the receipt of the finished one is unchanged, the
 * queued one runs to completion with the right payload_sha256, and money is conserved. */
#define IT_JOBS_MINER_CFG "heartbeat_interval_s: 30, lease_s: 60, max_attempts: 2, sweep_ms: 50"
#include "it_jobs_common.h"
#include <sqlite3.h>

/* client_jobs as migrations 1..5 left it, its indexes, and step 6 forgotten. */
static const char k_to_v5[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE client_jobs_v5(seq INTEGER PRIMARY KEY, job_id TEXT NOT NULL UNIQUE,"
    " client TEXT NOT NULL, state TEXT NOT NULL, job_type TEXT NOT NULL, miner TEXT,"
    " payment TEXT NOT NULL, unit_type TEXT, payload TEXT NOT NULL, constraints TEXT NOT NULL,"
    " result TEXT, error TEXT, receipt TEXT, miner_sig TEXT, max_price INTEGER NOT NULL,"
    " unit_price INTEGER, price INTEGER, units INTEGER, attempt INTEGER NOT NULL,"
    " lease_ms INTEGER, created_ms INTEGER NOT NULL, assigned_ms INTEGER, started_ms INTEGER,"
    " completed_ms INTEGER, expires_ms INTEGER NOT NULL, progress_ppm INTEGER, progress_ms INTEGER,"
    " trade_id TEXT, seller TEXT);"
    "INSERT INTO client_jobs_v5 SELECT j.seq, j.job_id, j.client, j.state, j.job_type, j.miner,"
    " j.payment, j.unit_type, p.payload, j.constraints, j.result, j.error, j.receipt, j.miner_sig,"
    " j.max_price, j.unit_price, j.price, j.units, j.attempt, j.lease_ms, j.created_ms,"
    " j.assigned_ms, j.started_ms, j.completed_ms, j.expires_ms, j.progress_ppm, j.progress_ms,"
    " j.trade_id, j.seller FROM client_jobs j JOIN client_payloads p ON p.seq = j.seq;"
    "DROP TABLE client_jobs;"
    "DROP TABLE client_payloads;"
    "ALTER TABLE client_jobs_v5 RENAME TO client_jobs;"
    "CREATE INDEX client_jobs_state ON client_jobs(state, seq);"
    "CREATE INDEX client_jobs_client ON client_jobs(client, seq);"
    "CREATE INDEX client_jobs_miner ON client_jobs(miner, seq);"
    "CREATE INDEX client_jobs_running ON client_jobs(miner) WHERE state = 'RUNNING';"
    "CREATE INDEX client_jobs_lease ON client_jobs(lease_ms) WHERE state = 'RUNNING';"
    "CREATE INDEX client_jobs_ttl ON client_jobs(expires_ms) WHERE state IN ('QUEUED', 'RUNNING');"
    "CREATE INDEX client_jobs_queue ON client_jobs(job_type, seq) WHERE state = 'QUEUED';"
    "CREATE INDEX client_jobs_seller_queue ON client_jobs(seller, seq)"
    " WHERE state = 'QUEUED' AND seller IS NOT NULL;"
    "CREATE INDEX client_jobs_trade_running ON client_jobs(trade_id)"
    " WHERE state = 'RUNNING' AND trade_id IS NOT NULL;"
    "CREATE INDEX client_jobs_completed ON client_jobs(completed_ms) WHERE state = 'COMPLETED';"
    "DROP TABLE client_queued;" /* from step 7 */
    "DROP TABLE client_gen;"    /* from step 8 */
    "DELETE FROM host_schema WHERE plugin = 'client' AND version >= 6;"
    "COMMIT;";

static sqlite3 *open_db(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/aitbc.db", th_data_dir(H));
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int64_t one_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int prepares(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    return ok;
}

/* {"type": "upg", "tag": "<tag> é", "blob": 50 000 letters} with max_price, as a submit body
 * and parsed. */
static cJSON *payload(const char *tag, const char *max_price, char **body) {
    char members[128], rest[64];
    snprintf(members, sizeof members, "\"type\":\"upg\",\"tag\":\"%s \\u00e9\"", tag);
    snprintf(rest, sizeof rest, ",\"max_price\":\"%s\"", max_price);
    return blob_job(members, 50000, rest, body);
}

static char *receipt_text(const jt_client *c, const char *id) {
    char path[160];
    th_resp r;
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    th_req(H, "GET", path, c->key, NULL, &r);
    expect_status(r.status, 200, &r, "receipt");
    char *t = strdup(r.body);
    th_resp_free(&r);
    return t;
}

static void test_upgrade_from_v5(void **st) {
    (void)st;
    if (th_on_postgres()) skip(); /* rewinds the SQLite file to schema v5 itself */
    jt_client c;
    jt_miner m;
    jt_client_new(H, "10", &c);
    assert_int_equal(jt_miner_register(H, &m, caps("upg"), 1, "1"), 201);
    char *body, done_id[64], queued_id[64], free_id[64];
    th_resp r;
    /* one job run to the end before the upgrade */
    cJSON *done = payload("done", "2", &body);
    assert_int_equal(jt_submit(H, &c, body, done_id), 201);
    free(body);
    jt_beat(H, &m, 5, "[]", &r);
    only_job(&r, done_id);
    th_resp_free(&r);
    expect_status(jt_complete(H, &m, done_id, 1, "{\"r\":1}", 1, &r), 200, &r, "complete");
    th_resp_free(&r);
    char *done_receipt = receipt_text(&c, done_id);
    /* one waiting with its escrow, one free one no miner takes (too cheap) */
    cJSON *queued = payload("queued", "3", &body);
    assert_int_equal(jt_submit(H, &c, body, queued_id), 201);
    free(body);
    cJSON *freejob = payload("free", "0", &body);
    assert_int_equal(jt_submit(H, &c, body, free_id), 201);
    free(body);
    assert_int_equal(th_stop(H), 0);

    sqlite3 *db = open_db();
    char *err = NULL;
    if (sqlite3_exec(db, k_to_v5, NULL, NULL, &err) != SQLITE_OK) fail_msg("to v5: %s", err);
    assert_int_equal(one_int(db, "SELECT COUNT(*) FROM client_jobs WHERE length(payload) > 50000"),
                     3);
    assert_false(prepares(db, "SELECT 1 FROM client_payloads"));
    sqlite3_close(db);

    assert_int_equal(th_restart(H, 0), 0);
    char *log = th_stderr(H); /* both runs: step 6 applied at the first start and again now */
    int applied = 0;
    for (const char *p = log; (p = strstr(p, "client: applying migration 6")); p++)
        applied++;
    free(log);
    assert_int_equal(applied, 2);
    db = open_db();
    assert_false(prepares(db, "SELECT payload FROM client_jobs")); /* moved out of the rows */
    assert_int_equal(one_int(db, "SELECT COUNT(*) FROM client_payloads"), 3);
    assert_int_equal(one_int(db, "SELECT COUNT(*) FROM client_jobs j JOIN client_payloads p ON "
                                 "p.seq = j.seq WHERE j.payload_bytes = length(CAST(p.payload "
                                 "AS BLOB)) AND j.payload_bytes > 50000"),
                     3);
    /* step 7 counted the two QUEUED jobs (one account) for the submit limit */
    assert_int_equal(one_int(db, "SELECT SUM(jobs) FROM client_queued"), 2);
    assert_int_equal(one_int(db, "SELECT SUM(bytes) FROM client_queued"),
                     one_int(db, "SELECT SUM(payload_bytes) FROM client_jobs WHERE state = "
                                 "'QUEUED'"));
    sqlite3_close(db);

    cJSON *j = jt_job(H, done_id, 0);
    assert_string_equal(jt_str(j, "state"), "COMPLETED");
    same_payload(done, j, "completed job");
    cJSON_Delete(j);
    char *after = receipt_text(&c, done_id);
    assert_string_equal(after, done_receipt);
    free(after);
    free(done_receipt);
    j = jt_job(H, free_id, 0);
    assert_string_equal(jt_str(j, "state"), "QUEUED");
    same_payload(freejob, j, "free job");
    cJSON_Delete(j);
    j = jt_job(H, queued_id, 0);
    same_payload(queued, j, "queued job");
    cJSON_Delete(j);

    /* the queued job runs on the upgraded schema, with the payload it was submitted with */
    jt_beat(H, &m, 5, "[]", &r);
    same_payload(queued, only_job(&r, queued_id), "assignment after the upgrade");
    th_resp_free(&r);
    expect_status(jt_complete(H, &m, queued_id, 1, "{\"r\":2}", 2, &r), 200, &r, "complete 2");
    th_resp_free(&r);
    char *text = receipt_text(&c, queued_id);
    cJSON *receipt = cJSON_Parse(text);
    free(text);
    char sha[65];
    assert_int_equal(aitbc_json_sha256_hex(queued, sha), 0);
    assert_string_equal(jt_str(receipt, "payload_sha256"), sha);
    assert_int_equal(jt_cli_verify(H, receipt), 0);
    cJSON_Delete(receipt);
    cJSON_Delete(done);
    cJSON_Delete(queued);
    cJSON_Delete(freejob);
    assert_true(jt_conserved(H));
    assert_int_equal(jt_locked_total(H), 0);
}

static int setup_host(void **st) {
    (void)st;
    H = jt_start(IT_JOBS_MINER_CFG);
    return H ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_upgrade_from_v5)};
    return cmocka_run_group_tests(tests, setup_host, teardown);
}
