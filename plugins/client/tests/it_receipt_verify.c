/* `aitbc-host --verify-receipt` on receipts from a real node, run as a separate process from an
 * empty directory with an empty HOME and no config: it verifies with the key taken from the node's
 * URL, a saved key answer or a bare hex key, checks payload/result hashes when given, names what
 * is wrong with a tampered receipt, and leaves the directory empty. */
#include "jobs_th.h"
#include <aitbc/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

static th_host *H;
static char W[256], E[256]; /* work files; the empty directory the verifier runs in */
static char url[64];

static void put(const char *name, const char *text, char path[512]) {
    snprintf(path, 512, "%s/%s", W, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    fclose(f);
}

static void put_json(const char *name, const cJSON *v, char path[512]) {
    char *text = aitbc_json_print(v);
    put(name, text, path);
    free(text);
}

/* Run the verifier in E with HOME=E; extra args after the receipt and key. */
static void verify(const char *receipt, const char *key, const char *a1, const char *a2,
                   const char *a3, const char *a4, jt_proc *p) {
    static char home[300];
    snprintf(home, sizeof home, "HOME=%s", E);
    const char *argv[] = {
        AITBC_HOST_BIN, "--verify-receipt", receipt, "--public-key", key, a1, a2, a3, a4, NULL};
    const char *env[] = {home, NULL};
    jt_run(E, argv, env, NULL, p);
    if (jt_dir_entries(E) != 0) fail_msg("the verifier left files in %s", E);
}

static void expect_verdict(jt_proc *p, int status, const char *want) {
    if (p->status != status || !strstr(p->out, want))
        fail_msg("exit %d, out \"%s\", err \"%s\"; want exit %d with \"%s\"", p->status, p->out,
                 p->err, status, want);
    const char *nl = strchr(p->out, '\n'); /* exactly one line */
    assert_true(nl && nl[1] == 0);
    jt_proc_free(p);
}

/* A job run to the end by a fresh miner; the receipt (caller frees). result NULL = failure. */
static cJSON *finished(const char *result, char id[64]) {
    jt_client c;
    jt_miner m;
    th_resp r;
    char path[160];
    jt_client_new(H, "10", &c);
    assert_int_equal(
        jt_miner_register(H, &m, "{\"job_types\":[\"ocr\"],\"models\":[\"eng\"]}", 1, "0.1"), 201);
    assert_int_equal(
        jt_submit(H, &c,
                  "{\"payload\":{\"type\":\"ocr\",\"image_base64\":\"aGk=\",\"x\":0.1},"
                  "\"max_price\":\"1\"}",
                  id),
        201);
    assert_int_equal(jt_beat(H, &m, 5, "[]", &r), 200);
    th_resp_free(&r);
    if (result) {
        assert_int_equal(jt_complete(H, &m, id, 1, result, 3, &r), 200);
    } else {
        snprintf(path, sizeof path, "/v1/jobs/%s/complete", id);
        assert_int_equal(th_req(H, "POST", path, m.key,
                                "{\"attempt\":1,\"error\":{\"code\":\"bad_image\","
                                "\"message\":\"cannot decode\"}}",
                                &r),
                         0);
        assert_int_equal(r.status, 200);
    }
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", id);
    assert_int_equal(th_req(H, "GET", path, c.key, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    cJSON *receipt = r.json;
    r.json = NULL;
    th_resp_free(&r);
    return receipt;
}

static void test_verifies_from_anywhere(void **st) {
    (void)st;
    char id[64], rp[512], kp[512], hp[512], pp[512], resp[512];
    cJSON *rc = finished("{\"text\":\"hi\",\"confidence\":90}", id);
    assert_string_equal(jt_str(rc, "miner_public_key") ? "set" : "unset", "set");
    assert_true(jt_node_verify(H, rc)); /* the independent check agrees with the new member */
    put_json("r.json", rc, rp);
    jt_proc p;
    verify(rp, url, NULL, NULL, NULL, NULL, &p);
    expect_verdict(&p, 0, ": OK (job ");
    verify(rp, url, NULL, NULL, NULL, NULL, &p);
    assert_non_null(strstr(p.out, "miner signature ok"));
    jt_proc_free(&p);

    /* the key answer saved to a file, and the bare hex key */
    th_resp r;
    assert_int_equal(th_req(H, "GET", "/v1/receipts/public-key", NULL, NULL, &r), 0);
    put("key.json", r.body, kp);
    const cJSON *k = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "keys"), 0);
    char hex[80];
    snprintf(hex, sizeof hex, "%s\n", jt_str(k, "public_key"));
    put("key.hex", hex, hp);
    th_resp_free(&r);
    verify(rp, kp, NULL, NULL, NULL, NULL, &p);
    expect_verdict(&p, 0, "OK");
    verify(rp, hp, NULL, NULL, NULL, NULL, &p);
    expect_verdict(&p, 0, "OK");
    /* the full route as URL; a config that does not exist is not read */
    char full[128];
    snprintf(full, sizeof full, "%s/v1/receipts/public-key", url);
    verify(rp, full, "-c", "/nonexistent/config.yaml", NULL, NULL, &p);
    expect_verdict(&p, 0, "OK");

    /* payload and result hashes: what the client sent (numbers as sent) and what came back */
    put("p.json", "{\"type\":\"ocr\",\"x\":0.1,\"image_base64\":\"aGk=\"}", pp);
    put("res.json", "{\"confidence\":90,\"text\":\"hi\"}", resp);
    verify(rp, url, "--payload", pp, "--result", resp, &p);
    expect_verdict(&p, 0, "payload hash ok, result hash ok");
    put("res2.json", "{\"confidence\":90,\"text\":\"hI\"}", resp);
    verify(rp, url, "--result", resp, NULL, NULL, &p);
    expect_verdict(&p, 1, "INVALID (the result given does not match result_sha256");
    /* a receipt inside a completion answer */
    cJSON *answer = cJSON_CreateObject();
    cJSON_AddStringToObject(answer, "job_id", id);
    cJSON_AddItemToObject(answer, "receipt", cJSON_Duplicate(rc, 1));
    put_json("answer.json", answer, rp);
    cJSON_Delete(answer);
    verify(rp, hp, NULL, NULL, NULL, NULL, &p);
    expect_verdict(&p, 0, "OK");
    cJSON_Delete(rc);
}

static void test_tampering_and_bad_keys_fail(void **st) {
    (void)st;
    char id[64], rp[512], kp[512];
    cJSON *rc = finished("{\"text\":\"hi\"}", id);
    static const struct {
        const char *member, *value, *why;
    } cases[] = {
        {"price", "0.2", "coordinator signature does not verify"},
        {"miner", "ait10000000000000000000000000000000000000001",
         "coordinator signature does not verify"},
        {"miner_signature", "AAAA", "coordinator signature does not verify"},
        {"result_sha256", "0000000000000000000000000000000000000000000000000000000000000000",
         "coordinator signature does not verify"},
        {"coordinator_key_id", "0123456789abcdef", "signed by coordinator key 0123456789abcdef"},
        {"signature", NULL, "signature missing"},
        {"job_id", NULL, "job_id missing"},
    };
    jt_proc p;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *bad = cJSON_Duplicate(rc, 1);
        if (cases[i].value)
            cJSON_ReplaceItemInObjectCaseSensitive(bad, cases[i].member,
                                                   cJSON_CreateString(cases[i].value));
        else
            cJSON_DeleteItemFromObjectCaseSensitive(bad, cases[i].member);
        put_json("bad.json", bad, rp);
        cJSON_Delete(bad);
        verify(rp, url, NULL, NULL, NULL, NULL, &p);
        expect_verdict(&p, 1, cases[i].why);
    }
    put_json("r.json", rc, rp);
    /* another node's key */
    put("other.hex", "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29", kp);
    verify(rp, kp, NULL, NULL, NULL, NULL, &p);
    expect_verdict(&p, 1, "another node's receipt, or the wrong --public-key");
    /* keys and receipts that cannot be read */
    put("junk.txt", "not a key", kp);
    verify(rp, kp, NULL, NULL, NULL, NULL, &p);
    expect_verdict(&p, 1, "not a key");
    verify(rp, "/nonexistent/key", NULL, NULL, NULL, NULL, &p);
    expect_verdict(&p, 1, "cannot read the coordinator key");
    verify(rp, "http://127.0.0.1:1", NULL, NULL, NULL, NULL, &p);
    expect_verdict(&p, 1, "cannot fetch the coordinator key");
    verify("/nonexistent/r.json", url, NULL, NULL, NULL, NULL, &p);
    expect_verdict(&p, 1, "cannot read the receipt");
    put("notjson.json", "{\"receipt\":", rp);
    verify(rp, url, NULL, NULL, NULL, NULL, &p);
    expect_verdict(&p, 1, "is not valid JSON");
    cJSON_Delete(rc);

    /* usage: the key is required */
    const char *argv[] = {AITBC_HOST_BIN, "--verify-receipt", rp, NULL};
    jt_run(E, argv, NULL, NULL, &p);
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "--verify-receipt needs --public-key"));
    jt_proc_free(&p);
    assert_int_equal(jt_dir_entries(E), 0);
}

static void test_failed_receipt(void **st) {
    (void)st;
    char id[64], rp[512], ep[512];
    cJSON *rc = finished(NULL, id);
    assert_string_equal(jt_str(rc, "state"), "FAILED");
    put_json("failed.json", rc, rp);
    put("err.json", "{\"message\":\"cannot decode\",\"code\":\"bad_image\"}", ep);
    jt_proc p;
    verify(rp, url, "--result", ep, NULL, NULL, &p);
    expect_verdict(&p, 0, "FAILED, coordinator key");
    cJSON_Delete(rc);
}

static int setup(void **st) {
    (void)st;
    H = jt_start("heartbeat_interval_s: 30, lease_s: 60, max_attempts: 3");
    if (!H) return -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", th_http_port(H));
    jt_tmpdir(W);
    jt_tmpdir(E);
    return 0;
}

static int teardown(void **st) {
    (void)st;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && rmdir '%s'", W, E); /* rmdir: E must be empty */
    int rc = system(cmd);
    int stop = th_stop(H);
    th_free(H);
    return rc == 0 && stop == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verifies_from_anywhere),
        cmocka_unit_test(test_tampering_and_bad_keys_fail),
        cmocka_unit_test(test_failed_receipt),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
