/* The miner agent against a real coordinator: two (or three) aitbc-host processes on loopback —
 * the coordinator (auth-apikey, chain, explorer, client, miner, admin) and miner nodes
 * (miner-agent + the compute-test backend). A client's job runs on the miner node, the result and
 * the receipt verify (Node's Ed25519 and `aitbc-host --verify-receipt`), the miner is paid; a
 * revoked key is replaced; a cancel stops the job; kill -9 of a miner node mid-job hands the job
 * to a second node; SIGTERM drains. */
#include "agent_th.h"
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

static th_host *C;        /* the coordinator */
static th_host *nodes[4]; /* miner nodes of the running test, freed by its teardown */
static int nnodes;

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static mode_t file_mode(th_host *h, const char *name) {
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", th_data_dir(h), name);
    return stat(path, &st) == 0 ? st.st_mode & 0777 : 0;
}

static int has_apikey(void *h) {
    return file_mode(h, "miner.apikey") != 0;
}

static th_host *miner_node(const char *extra, char address[48]) {
    th_host *m = at_miner(C, extra);
    assert_non_null(m);
    nodes[nnodes++] = m;
    at_address(m, address);
    assert_true(aitbc_address_valid(address));
    jt_track(address);
    assert_true(at_wait_miner(C, address, "ONLINE", 10000));
    assert_true(th_wait_until(has_apikey, m, 10000));
    return m;
}

static int free_nodes(void **st) {
    (void)st;
    while (nnodes > 0)
        th_free(nodes[--nnodes]);
    return 0;
}

static void read_file(th_host *h, const char *name, char *out, size_t cap) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", th_data_dir(h), name);
    FILE *f = fopen(path, "r");
    out[0] = '\0';
    if (f) {
        if (!fgets(out, (int)cap, f)) out[0] = '\0';
        fclose(f);
    }
    out[strcspn(out, "\r\n")] = '\0';
}

static int no_job_running(void *m) {
    return jt_metric(m, "aitbc_miner_agent_jobs_running") == 0;
}

static void test_job_runs_verifies_and_pays(void **st) {
    (void)st;
    char addr[48], id[64];
    th_host *m = miner_node("concurrency: 2, unit_price: \"0.5\", region: \"eu\", hardware: "
                            "{ gpus: [{ name: \"Test GPU 8G\", memory_mb: 8000 }] }",
                            addr);
    assert_int_equal(file_mode(m, "miner.key"), 0600);
    assert_int_equal(file_mode(m, "miner.apikey"), 0600);

    /* what the miner advertised: the backend's job types and models, the hardware override */
    cJSON *rec = at_miner_record(C, addr);
    const cJSON *caps = cJSON_GetObjectItem(rec, "capabilities");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(caps, "job_types"), 0)->valuestring,
                        "test");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(caps, "models"), 0)->valuestring,
                        "tiny");
    assert_string_equal(jt_str(cJSON_GetArrayItem(cJSON_GetObjectItem(caps, "gpus"), 0), "name"),
                        "Test GPU 8G");
    assert_string_equal(jt_str(caps, "region"), "eu");
    assert_string_equal(jt_str(rec, "unit_price"), "0.5");
    assert_int_equal(jt_int(rec, "concurrency"), 2);
    cJSON_Delete(rec);

    jt_client c;
    jt_client_new(C, "10", &c);
    /* keys out of order, non-ASCII, a fraction and a null: the miner's hash of the result must
     * be the coordinator's, or the completion fails with invalid_signature */
    char body[512];
    snprintf(body, sizeof body,
             "{\"payload\":{\"type\":\"test\",\"echo\":{\"t\":\"Gr\\u00fc\\u00dfe\",\"f\":0.1,"
             "\"n\":[1,{\"z\":null}]},\"ms\":300,\"steps\":3,\"units\":3},\"max_price\":\"5\","
             "\"constraints\":{\"models\":[\"tiny\"],\"region\":\"eu\",\"min_vram_gb\":8}}");
    assert_int_equal(jt_submit(C, &c, body, id), 201);
    assert_true(at_wait_job(C, id, "COMPLETED", addr, 15000));
    cJSON *job = jt_job(C, id, 0);
    const cJSON *echo = cJSON_GetObjectItem(cJSON_GetObjectItem(job, "result"), "echo");
    assert_string_equal(jt_str(echo, "t"), "Gr\xc3\xbc\xc3\x9f"
                                           "e");
    assert_true(cJSON_GetObjectItem(echo, "f")->valuedouble == 0.1);
    assert_string_equal(jt_str(job, "price"), "1.5");
    assert_int_equal(jt_int(job, "attempt"), 1);
    cJSON_Delete(job);

    th_resp r;
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    assert_int_equal(th_req(C, "GET", path, c.key, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(jt_str(r.json, "miner"), addr);
    assert_int_equal(jt_int(r.json, "units"), 3);
    assert_true(jt_node_verify(C, r.json));
    assert_int_equal(jt_cli_verify(C, r.json), 0);
    th_resp_free(&r);

    /* paid: 3 units × 0.5 = 1.5, minus the 2.5 % fee */
    int64_t avail, locked;
    jt_balance(C, addr, &avail, &locked);
    assert_int_equal(avail, 1500000 - 37500);
    assert_int_equal(locked, 0);
    assert_true(jt_conserved(C));

    /* a backend failure is reported as the job's error */
    at_submit(C, &c, "\"fail\":\"boom\"", "1", id);
    assert_true(at_wait_job(C, id, "FAILED", addr, 15000));
    job = jt_job(C, id, 0);
    assert_string_equal(jt_str(cJSON_GetObjectItem(job, "error"), "code"), "boom");
    cJSON_Delete(job);
    assert_true(at_wait_unspooled(m, 10000));

    /* heartbeat metrics carry the detected CPU */
    rec = at_miner_record(C, addr);
    assert_true(jt_int(cJSON_GetObjectItem(rec, "metrics"), "cpu_cores") >= 1);
    cJSON_Delete(rec);

    /* the miner node's own /metrics: both attempts reported, nothing left in the spool (a job
     * thread counts its attempt after delivering it, then leaves its slot) */
    assert_true(th_wait_until(no_job_running, m, 10000));
    char *text = jt_scrape(m);
    assert_true(jt_metric_in(text, "aitbc_miner_agent_slots") == 2);
    assert_true(jt_metric_in(text, "aitbc_miner_agent_jobs_running") == 0);
    assert_true(jt_metric_in(text, "aitbc_miner_agent_jobs_finished_total{outcome=\"ok\"}") == 1);
    assert_true(jt_metric_in(text, "aitbc_miner_agent_jobs_finished_total{outcome=\"failed\"}") ==
                1);
    assert_true(jt_metric_in(text, "aitbc_miner_agent_spooled_results") == 0);
    assert_true(jt_metric_in(text, "aitbc_miner_agent_registered") == 1);
    assert_true(jt_metric_in(text, "aitbc_miner_agent_coordinator_up") == 1);
    assert_true(jt_metric_in(text, "aitbc_miner_agent_draining") == 0);
    assert_int_equal(jt_unexported(text, "aitbc_miner_agent_", 1), 0);
    int lint = jt_promtool_check(text, "it_agent_miner.prom");
    assert_true(lint == 0 || lint == 77);
    free(text);
    assert_int_equal(th_stop(m), 0);
}

static void test_revoked_key_registers_again(void **st) {
    (void)st;
    char addr[48], id[64], key[256], key2[256], path[160];
    th_host *m = miner_node("poll_wait_s: 1", addr);
    read_file(m, "miner.apikey", key, sizeof key);
    /* aitbc_miner_<key_id>_<secret>: revoke key_id as the admin */
    const char *kid = strstr(key, "key_");
    assert_non_null(kid);
    snprintf(path, sizeof path, "/v1/admin/keys/%.*s", (int)(strrchr(key, '_') - kid), kid);
    th_resp r;
    assert_int_equal(th_req(C, "DELETE", path, jt_admin(C), NULL, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);

    jt_client c;
    jt_client_new(C, "0", &c);
    at_submit(C, &c, "\"ms\":10", "0", id);
    assert_true(at_wait_job(C, id, "COMPLETED", addr, 15000));
    read_file(m, "miner.apikey", key2, sizeof key2);
    assert_string_not_equal(key, key2);
    assert_true(at_log_has(m, "registering again"));
}

static void test_cancel_stops_the_job(void **st) {
    (void)st;
    char addr[48], id[64], id2[64];
    th_host *m = miner_node("concurrency: 1", addr);
    jt_client c;
    jt_client_new(C, "0", &c);
    at_submit(C, &c, "\"ms\":60000", "0", id);
    assert_true(at_wait_job(C, id, "RUNNING", addr, 10000));
    assert_int_equal(at_cancel(C, &c, id), 200);
    /* the only slot is freed long before the 60 s job would have ended */
    int64_t t0 = mono_ms();
    at_submit(C, &c, "\"ms\":10", "0", id2);
    assert_true(at_wait_job(C, id2, "COMPLETED", addr, 15000));
    assert_true(mono_ms() - t0 < 15000);
    assert_true(at_log_has(m, "canceled by the coordinator"));
    cJSON *job = jt_job(C, id, 0);
    assert_string_equal(jt_str(job, "state"), "CANCELED");
    cJSON_Delete(job);
}

typedef struct progress_q {
    const char *id;
} progress_q;

static int shows_progress(void *arg) {
    cJSON *j = jt_job(C, ((progress_q *)arg)->id, 0);
    const cJSON *p = cJSON_GetObjectItem(j, "progress");
    int ok = strcmp(jt_str(j, "state"), "RUNNING") == 0 && cJSON_IsNumber(p) &&
             p->valuedouble > 0 && p->valuedouble < 1;
    cJSON_Delete(j);
    return ok;
}

static void test_progress_is_forwarded(void **st) {
    (void)st;
    char addr[48], id[64];
    miner_node("progress_interval_ms: 200", addr);
    jt_client c;
    jt_client_new(C, "0", &c);
    at_submit(C, &c, "\"ms\":20000,\"steps\":40", "0", id);
    progress_q q = {id};
    assert_true(th_wait_until(shows_progress, &q, 10000));
    assert_int_equal(at_cancel(C, &c, id), 200);
}

static void test_kill9_requeues_to_second_node(void **st) {
    (void)st;
    char a1[48], a2[48], id[64];
    th_host *m1 = miner_node("unit_price: \"0.1\"", a1);
    jt_client c;
    jt_client_new(C, "10", &c);
    at_submit(C, &c, "\"ms\":3000,\"steps\":3,\"echo\":\"survives\"", "1", id);
    assert_true(at_wait_job(C, id, "RUNNING", a1, 10000));
    assert_int_equal(th_kill(m1), 128 + SIGKILL);

    miner_node("unit_price: \"0.1\"", a2);
    assert_string_not_equal(a1, a2);
    assert_true(at_wait_job(C, id, "COMPLETED", a2, 30000));
    cJSON *job = jt_job(C, id, 0);
    assert_int_equal(jt_int(job, "attempt"), 2);
    assert_string_equal(jt_str(cJSON_GetObjectItem(job, "result"), "echo"), "survives");
    cJSON_Delete(job);
    int64_t avail, locked;
    jt_balance(C, a1, &avail, &locked);
    assert_int_equal(avail + locked, 0); /* the killed node is not paid */
    jt_balance(C, a2, &avail, &locked);
    assert_int_equal(avail, 100000 - 2500);
    assert_true(jt_conserved(C));
}

static int spool_empty(void *miner) {
    return at_spooled(miner) == 0;
}

static void test_sigterm_drains(void **st) {
    (void)st;
    char addr[48], quick[64], slow[64], later[64];
    th_host *m = miner_node("concurrency: 2, drain_grace_s: 4", addr);
    jt_client c;
    jt_client_new(C, "0", &c);
    at_submit(C, &c, "\"ms\":1000,\"steps\":2", "0", quick);
    at_submit(C, &c, "\"ms\":60000,\"steps\":60", "0", slow);
    assert_true(at_wait_job(C, quick, "RUNNING", addr, 10000));
    assert_true(at_wait_job(C, slow, "RUNNING", addr, 10000));

    int64_t t0 = mono_ms();
    assert_int_equal(th_signal(m, SIGTERM), 0);
    /* DRAINING at once; new work is not taken */
    assert_true(at_wait_miner(C, addr, "DRAINING", 5000));
    at_submit(C, &c, "\"ms\":10", "0", later);
    assert_int_equal(th_stop(m), 0);
    int64_t took = mono_ms() - t0;
    assert_true(took < 4000 + 6000); /* the grace, plus the slow job's last step */

    /* the quick job finished within the grace; the slow one was failed as retryable and
     * requeued; the later one never went to the draining node */
    cJSON *job = jt_job(C, quick, 0);
    assert_string_equal(jt_str(job, "state"), "COMPLETED");
    cJSON_Delete(job);
    job = jt_job(C, slow, 0);
    assert_string_equal(jt_str(job, "state"), "QUEUED");
    assert_string_equal(jt_str(cJSON_GetObjectItem(job, "error"), "code"), "miner_draining");
    assert_int_equal(jt_int(job, "attempt"), 1);
    cJSON_Delete(job);
    job = jt_job(C, later, 0);
    assert_string_equal(jt_str(job, "state"), "QUEUED");
    assert_int_equal(jt_int(job, "attempt"), 0);
    cJSON_Delete(job);
    cJSON *rec = at_miner_record(C, addr);
    assert_string_equal(jt_str(rec, "status"), "DRAINING");
    cJSON_Delete(rec);

    /* the same node started again takes the queued work; a drain report whose answer did not
     * come back within the drain's request cap (DRAIN_REQUEST_MS, under a slow build) stayed
     * spooled, and is re-sent and settled at this start: nothing is left over */
    assert_int_equal(th_restart(m, 0), 0);
    assert_true(at_wait_job(C, later, "COMPLETED", addr, 15000));
    assert_true(th_wait_until(spool_empty, m, 10000)); /* the last answer may still be coming */
    assert_int_equal(at_cancel(C, &c, slow), 200);
}

static int setup(void **st) {
    (void)st;
    C = jt_start("heartbeat_interval_s: 1, lease_s: 3, max_attempts: 3, sweep_ms: 100");
    return C ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    int rc = th_stop(C);
    th_free(C);
    return rc == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_job_runs_verifies_and_pays, free_nodes),
        cmocka_unit_test_teardown(test_revoked_key_registers_again, free_nodes),
        cmocka_unit_test_teardown(test_cancel_stops_the_job, free_nodes),
        cmocka_unit_test_teardown(test_progress_is_forwarded, free_nodes),
        cmocka_unit_test_teardown(test_kill9_requeues_to_second_node, free_nodes),
        cmocka_unit_test_teardown(test_sigterm_drains, free_nodes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
