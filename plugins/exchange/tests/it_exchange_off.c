/* Turning the exchange off never freezes funds: a node whose database holds funds the exchange
 * locked (an open order) refuses to start without the exchange, naming the module, the accounts,
 * the amount and the fix; re-enabling the exchange starts it again with the order intact; the
 * offline `--release-locks exchange` refunds the locks with ESCROW_REFUND transactions, and
 * then the node starts without the exchange with the owner's funds available. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "ex_common.h"

static char g_dir[256];

/* k_plugins without the exchange line. */
static const char *k_without =
    "  auth-static: { keys: [ {key: \"k-admin\", role: admin, address: \"" ADMIN "\"},\n"
    "    {key: \"k-alice\", role: client, address: \"" ALICE "\"},\n"
    "    {key: \"k-bob\", role: client, address: \"" BOB "\"},\n"
    "    {key: \"k-carol\", role: client, address: \"" CAROL "\"} ] }\n"
    "  chain: { block_interval_ms: 50, max_empty_interval_s: 0,\n"
    "    genesis: { accounts: [\"" ALICE "\", \"" BOB "\", \"" CAROL "\"] } }\n"
    "  explorer: {}\n";

static char *read_text(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

static void expect_in(const char *text, const char *want) {
    if (!text || !strstr(text, want)) fail_msg("expected \"%s\" in:\n%s", want, text ? text : "");
}

static void restart(const char *plugins) {
    assert_int_equal(th_stop(H), 0);
    th_forget(H);
    H = th_start_in(g_dir, plugins, NULL);
    assert_non_null(H);
}

static void test_switched_off_exchange_refuses_then_refunds(void **st) {
    (void)st;
    th_resp r;
    mint(ALICE, "AIT", "10");
    order("k-alice",
          "{\"market\":\"AIT-BTC\",\"side\":\"sell\",\"type\":\"limit\",\"price\":\"0.001\","
          "\"quantity\":\"5\"}",
          201, &r);
    char order_id[64];
    snprintf(order_id, sizeof order_id, "%s", jstr(r.json, "order_id"));
    th_resp_free(&r);
    expect_bal("k-alice", "AIT", "5", "5");

    /* Without the exchange: refused, saying what and how to fix it. */
    assert_int_equal(th_stop(H), 0);
    th_forget(H);
    H = th_start_in(g_dir, k_without, NULL);
    if (H) fail_msg("the node started without the exchange while it held 5 AIT locked");
    char path[512];
    snprintf(path, sizeof path, "%s/host.stderr", g_dir);
    char *log = read_text(path);
    expect_in(log, "module 'exchange' is not loaded");
    expect_in(log, "5 AIT locked for 1 account");
    expect_in(log, "--release-locks exchange");
    free(log);

    /* Fix 1: re-enable it; the order is still there, the funds still locked. */
    H = th_start_in(g_dir, k_plugins, NULL);
    assert_non_null(H);
    char op[128];
    snprintf(op, sizeof op, "/v1/exchange/orders/%s", order_id);
    assert_int_equal(req("GET", op, "k-alice", NULL, &r), 200);
    assert_string_equal(jstr(r.json, "status"), "NEW");
    th_resp_free(&r);
    expect_bal("k-alice", "AIT", "5", "5");
    assert_int_equal(th_stop(H), 0);
    th_forget(H);
    H = NULL;

    /* The command refuses while the exchange is loaded: its own records would disagree. */
    const char *args[] = {"--release-locks", "exchange", NULL};
    char *out = NULL;
    assert_int_equal(th_run_once_in(g_dir, k_plugins, NULL, args, &out), 1);
    expect_in(out, "is loaded");
    free(out);
    /* Fix 2: switched off, the offline command refunds the locks on the ledger. */
    assert_int_equal(th_run_once_in(g_dir, k_without, NULL, args, &out), 0);
    expect_in(out, "refunded 5 AIT to " ALICE);
    expect_in(out, "ref release-locks:exchange:" ALICE ":AIT:");
    free(out);
    assert_int_equal(th_run_once_in(g_dir, k_without, NULL, args, &out), 0);
    expect_in(out, "0 locks refunded"); /* nothing left: a repeat moves nothing */
    free(out);

    H = th_start_in(g_dir, k_without, NULL);
    assert_non_null(H);
    char av[48], lk[48];
    addr_bal(ALICE, "AIT", av, lk);
    assert_string_equal(av, "10");
    assert_string_equal(lk, "0");
    snprintf(path, sizeof path, "/v1/explorer/address/%s/transactions", ALICE);
    assert_int_equal(req("GET", path, "k-admin", NULL, &r), 200);
    expect_in(r.body, "ESCROW_REFUND");
    th_resp_free(&r);
    restart(k_without);
}

static int group_setup(void **st) {
    (void)st;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/aitbc-exoff-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) return -1;
    H = th_start_in(g_dir, k_plugins, NULL);
    return H ? 0 : -1;
}

static int group_teardown(void **st) {
    (void)st;
    int rc = H ? th_stop(H) : 0;
    if (H) th_free(H); /* also removes g_dir */
    return rc == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_switched_off_exchange_refuses_then_refunds),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
