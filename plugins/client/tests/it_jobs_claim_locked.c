/* PostgreSQL only: a claim skips a QUEUED job whose row another session holds locked (another
 * host in the middle of claiming it) instead of waiting for it, and takes it once it is free.
 * The other session is played with libpq on the host's schema; without SKIP LOCKED the poll
 * would block on that row until the session ends. */
#include "it_jobs_common.h"
#include <libpq-fe.h>

static void exec_ok(PGconn *db, const char *sql, ExecStatusType want) {
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != want) fail_msg("%s: %s", sql, PQerrorMessage(db));
    PQclear(r);
}

static void test_claim_skips_a_row_locked_elsewhere(void **st) {
    (void)st;
    if (!th_on_postgres()) skip();
    jt_client c;
    jt_miner m;
    jt_client_new(H, "100", &c);
    assert_int_equal(jt_miner_register(H, &m, caps("locked"), 1, "0.5"), 201);
    const char *body = "{\"payload\":{\"type\":\"locked\",\"prompt\":\"x\"},\"max_price\":\"10\","
                       "\"ttl_seconds\":600}";
    char first[64], second[64], sql[160];
    assert_int_equal(jt_submit(H, &c, body, first), 201);
    assert_int_equal(jt_submit(H, &c, body, second), 201);

    PGconn *other = th_pg_session(H);
    assert_non_null(other);
    exec_ok(other, "BEGIN", PGRES_COMMAND_OK);
    snprintf(sql, sizeof sql, "SELECT 1 FROM client_jobs WHERE job_id = '%s' FOR UPDATE", first);
    exec_ok(other, sql, PGRES_TUPLES_OK);

    /* The older job is locked elsewhere: the poll takes the newer one at once. */
    th_resp r;
    expect_status(jt_beat(H, &m, 2, "[]", &r), 200, &r, "poll while the first row is locked");
    only_job(&r, second);
    th_resp_free(&r);

    exec_ok(other, "ROLLBACK", PGRES_COMMAND_OK);
    PQfinish(other);
    /* Free again: another miner is handed it. */
    jt_miner m2;
    assert_int_equal(jt_miner_register(H, &m2, caps("locked"), 1, "0.5"), 201);
    expect_status(jt_beat(H, &m2, 2, "[]", &r), 200, &r, "poll after the lock ended");
    only_job(&r, first);
    th_resp_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_skips_a_row_locked_elsewhere),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
