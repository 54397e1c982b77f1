/* A node whose auth backend cannot create keys (the SDK's auth-static) answers miner
 * registration with a clear 501 not_supported and says why in its log, instead of a bare 500. */
#include "it_jobs_common.h"
#include <aitbc/util.h>
#include <sodium.h>

static void test_registration_not_supported(void **st) {
    (void)st;
    jt_miner m;
    crypto_sign_keypair(m.pk, m.sk);
    aitbc_hex_encode(m.pk, 32, m.pk_hex);
    char *body = jt_register_body(&m, aitbc_now_ms() / 1000, caps("infer"), 1, "1");
    th_resp r;
    assert_int_equal(th_req(H, "POST", "/v1/miners/register", NULL, body, &r), 0);
    free(body);
    check_error(&r, 501, "not_supported", "registration with auth-static");
    th_resp_free(&r);
    char *log = th_stderr(H);
    assert_non_null(log);
    if (!strstr(log, "miner registration refused: the auth backend cannot create keys"))
        fail_msg("no log line saying why:\n%s", log);
    free(log);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    H = th_start("  auth-static: { keys: [ {key: \"k-admin\", role: admin} ] }\n"
                 "  chain: { block_interval_ms: 100, max_empty_interval_s: 0 }\n"
                 "  client: {}\n"
                 "  miner: {}\n",
                 NULL);
    if (!H) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registration_not_supported),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    int stc = th_stop(H);
    th_free(H);
    return rc ? rc : stc;
}
