/* GET /v1/account answers from auth-apikey's account cache, through the real host with the job
 * plugins: the answer changes right after a transfer, a mint and a job's escrow; a transfer that
 * ran in a batch still open when the account was read shows once that batch commits (the read in
 * between must not be kept: it saw the batch's uncommitted state as not yet there); a transfer
 * whose batch failed leaves the balance as it was; a revoked key gets 401 at once; and on
 * PostgreSQL a host beside another sees the other's transfer. */
#include "harness.h"
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

/* The job plugins with their timers slowed down: no block seal or TTL sweep joins the writer's
 * queue while a test counts what waits in it. */
#define PLUGINS                                                                                    \
    "  auth-apikey: { rate_limits: { client: {rps: 0, burst: 1}, miner: {rps: 0, burst: 1}, "      \
    "admin: {rps: 0, burst: 1} }, failed_auth: { per_minute: 0 } }\n"                              \
    "  chain: { block_interval_ms: 600000, max_empty_interval_s: 0 }\n"                            \
    "  explorer: {}\n"                                                                             \
    "  client: { ttl_sweep_ms: 60000 }\n"                                                          \
    "  miner: {}\n"                                                                                \
    "  admin: {}\n"

typedef struct client {
    char key[192];
    char address[48];
} client;

static th_host *H;
static char g_admin[200];

static const char *jstr(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* "8.5" → 8500000 (AIT has 6 decimals). */
static int64_t units(const char *money) {
    if (!money) fail_msg("no amount");
    int64_t whole = 0, frac = 0;
    int digits = 0;
    const char *p = money;
    for (; *p >= '0' && *p <= '9'; p++)
        whole = whole * 10 + (*p - '0');
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
            frac = frac * 10 + (*p - '0');
    for (; digits < 6; digits++)
        frac *= 10;
    return whole * 1000000 + frac;
}

static int read_admin(th_host *h) {
    char path[1024];
    snprintf(path, sizeof path, "%s/admin.key", th_data_dir(h));
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fgets(g_admin, sizeof g_admin, f) != NULL;
    fclose(f);
    g_admin[strcspn(g_admin, "\r\n")] = '\0';
    return ok ? 0 : -1;
}

static void mint(th_host *h, const char *address, const char *amount) {
    char body[256];
    snprintf(body, sizeof body, "{\"address\":\"%s\",\"asset\":\"AIT\",\"amount\":\"%s\"}", address,
             amount);
    th_resp r;
    if (th_req(h, "POST", "/v1/admin/mint", g_admin, body, &r) != 0 || r.status != 201)
        fail_msg("mint: %ld %s", r.status, r.body ? r.body : "");
    th_resp_free(&r);
}

/* A new client key on h with `amount` AIT minted to its account ("0": none). */
static void client_new(th_host *h, const char *amount, client *c) {
    th_resp r;
    if (th_req(h, "POST", "/v1/admin/keys", g_admin, "{\"role\":\"client\",\"label\":\"t\"}", &r) !=
            0 ||
        r.status != 201)
        fail_msg("create key: %ld %s", r.status, r.body ? r.body : "");
    snprintf(c->key, sizeof c->key, "%s", jstr(r.json, "api_key"));
    snprintf(c->address, sizeof c->address, "%s", jstr(r.json, "address"));
    th_resp_free(&r);
    if (strcmp(amount, "0") != 0) mint(h, c->address, amount);
}

/* AIT available and locked in base units (6 decimals), as h's GET /v1/account shows them. */
static void account(th_host *h, const client *c, int64_t *available, int64_t *locked) {
    th_resp r;
    if (th_req(h, "GET", "/v1/account", c->key, NULL, &r) != 0 || r.status != 200)
        fail_msg("GET /v1/account: %ld %s", r.status, r.body ? r.body : "");
    *available = units(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "balances"), "AIT"));
    if (locked) *locked = units(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "locked"), "AIT"));
    th_resp_free(&r);
}

static int64_t available(th_host *h, const client *c) {
    int64_t a;
    account(h, c, &a, NULL);
    return a;
}

static long transfer(th_host *h, const client *from, const client *to, const char *amount) {
    char body[200];
    snprintf(body, sizeof body, "{\"to\":\"%s\",\"asset\":\"AIT\",\"amount\":\"%s\"}", to->address,
             amount);
    th_resp r;
    if (th_req(h, "POST", "/v1/transfers", from->key, body, &r) != 0) fail_msg("no answer");
    long st = r.status;
    th_resp_free(&r);
    return st;
}

static int setup(void **st) {
    (void)st;
    H = th_start(PLUGINS "  batchprobe: {}\n", NULL);
    return H ? read_admin(H) : -1;
}

static int teardown(void **st) {
    (void)st;
    return th_end(&H);
}

static void test_moves_show_at_once(void **st) {
    (void)st;
    client a, b;
    client_new(H, "10", &a);
    client_new(H, "0", &b);
    /* Asked twice: the second answer comes from the cache. */
    assert_int_equal(available(H, &a), 10000000);
    assert_int_equal(available(H, &a), 10000000);
    assert_int_equal(available(H, &b), 0);

    assert_int_equal(transfer(H, &a, &b, "1.5"), 201);
    assert_int_equal(available(H, &a), 8500000);
    assert_int_equal(available(H, &b), 1500000);

    mint(H, b.address, "2");
    assert_int_equal(available(H, &b), 3500000);

    /* A job's escrow moves available into locked. */
    int64_t av0, lk0, av1, lk1;
    account(H, &a, &av0, &lk0);
    assert_int_equal(lk0, 0);
    th_resp r;
    assert_int_equal(th_req(H, "POST", "/v1/jobs", a.key,
                            "{\"payload\":{\"type\":\"acct-cache\"},\"max_price\":\"1\"}", &r),
                     0);
    assert_int_equal(r.status, 201);
    th_resp_free(&r);
    account(H, &a, &av1, &lk1);
    assert_true(lk1 > 0);
    assert_int_equal(av0 - av1, lk1);
}

/* ---- the writer's batch: held open with batchprobe's "hold" ---- */

typedef struct call {
    pthread_t thread;
    const char *path, *key;
    char body[256];
    long status;
} call;

static void *call_main(void *arg) {
    call *c = arg;
    th_resp r;
    c->status = th_req(H, "POST", c->path, c->key, c->body, &r) == 0 ? r.status : -1;
    th_resp_free(&r);
    return NULL;
}

static void start(call *c, const char *path, const char *key, const char *body) {
    memset(c, 0, sizeof *c);
    c->path = path;
    c->key = key;
    snprintf(c->body, sizeof c->body, "%s", body);
    assert_int_equal(pthread_create(&c->thread, NULL, call_main, c), 0);
}

static long join(call *c) {
    pthread_join(c->thread, NULL);
    return c->status;
}

static void start_probe(call *c, const char *id, const char *mode) {
    char body[128];
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"mode\":\"%s\"}", id, mode);
    start(c, "/v1/batchprobe/items", g_admin, body);
}

static void start_transfer(call *c, const client *from, const client *to) {
    char body[200];
    snprintf(body, sizeof body, "{\"to\":\"%s\",\"asset\":\"AIT\",\"amount\":\"1\"}", to->address);
    start(c, "/v1/transfers", from->key, body);
}

static int held(void *arg) {
    (void)arg;
    th_resp r;
    int h = th_req(H, "GET", "/v1/batchprobe/state", NULL, NULL, &r) == 0 &&
            cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "held")) == 1;
    th_resp_free(&r);
    return h;
}

static char *scrape(void) {
    th_resp r;
    if (th_req(H, "GET", "/metrics", g_admin, NULL, &r) != 0 || r.status != 200)
        fail_msg("metrics: %ld", r.status);
    char *text = strdup(r.body);
    th_resp_free(&r);
    if (!text) fail_msg("out of memory");
    return text;
}

/* Write requests waiting for the writer (not the one it runs). */
static int queue_is(void *arg) {
    char *text = scrape();
    const char *at = strstr(text, "\naitbc_write_queue ");
    double v = at ? strtod(at + strlen("\naitbc_write_queue "), NULL) : -1;
    free(text);
    return v == (double)*(int *)arg;
}

static void wait_queue(int n) {
    assert_true(th_wait_until(queue_is, &n, 10000));
}

static void release(void) {
    th_resp r;
    assert_int_equal(th_req(H, "POST", "/v1/batchprobe/release", NULL, "{}", &r), 0);
    th_resp_free(&r);
}

/* A "hold" request blocks the writer; behind it queue a transfer of 1 AIT from a to b, then a
 * batchprobe request of `mode`, and let the hold go: the three run in one batch, in that order. */
static void batch_with_transfer(const client *a, const client *b, const char *mode, call *hold,
                                call *xfer, call *next) {
    char id[32];
    static int n;
    snprintf(id, sizeof id, "acct-hold-%d", ++n);
    start_probe(hold, id, "hold");
    assert_true(th_wait_until(held, NULL, 10000));
    start_transfer(xfer, a, b);
    wait_queue(1);
    snprintf(id, sizeof id, "acct-next-%s-%d", mode, n);
    start_probe(next, id, mode);
    wait_queue(2);
    release();
}

static void test_batch_open_while_read(void **st) {
    (void)st;
    client a, b;
    client_new(H, "10", &a);
    client_new(H, "0", &b);
    assert_int_equal(available(H, &a), 10000000);
    /* Released, hold1 lets the writer run the transfer and then stop in hold2 with the batch
     * still open. */
    call hold1, xfer, hold2;
    batch_with_transfer(&a, &b, "hold", &hold1, &xfer, &hold2);
    wait_queue(0);
    assert_true(th_wait_until(held, NULL, 10000));
    /* The transfer ran but is not committed: the account does not show it yet, and what was
     * read now must not outlive the commit. */
    assert_int_equal(available(H, &a), 10000000);
    assert_int_equal(available(H, &a), 10000000);
    release();
    assert_int_equal(join(&hold1), 201);
    assert_int_equal(join(&xfer), 201);
    assert_int_equal(join(&hold2), 201);
    assert_int_equal(available(H, &a), 9000000);
    assert_int_equal(available(H, &b), 1000000);
}

static void test_failed_batch_keeps_balance(void **st) {
    (void)st;
    client a, b;
    client_new(H, "10", &a);
    client_new(H, "0", &b);
    assert_int_equal(available(H, &a), 10000000);
    /* The transfer shares a batch with a "poison" request whose COMMIT fails: all of it goes. */
    call hold, xfer, poison;
    batch_with_transfer(&a, &b, "poison", &hold, &xfer, &poison);
    assert_int_equal(join(&hold), 503);
    assert_int_equal(join(&xfer), 503);
    assert_int_equal(join(&poison), 503);
    assert_int_equal(available(H, &a), 10000000);
    assert_int_equal(available(H, &b), 0);
    /* and the next transfer that does commit shows */
    assert_int_equal(transfer(H, &a, &b, "1"), 201);
    assert_int_equal(available(H, &a), 9000000);
    assert_int_equal(available(H, &b), 1000000);
}

static void test_revoked_key_fails_at_once(void **st) {
    (void)st;
    client a;
    client_new(H, "1", &a);
    th_resp r;
    assert_int_equal(th_req(H, "GET", "/v1/account", a.key, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    char path[128];
    snprintf(path, sizeof path, "/v1/admin/keys/%s", jstr(r.json, "key_id"));
    th_resp_free(&r);
    assert_int_equal(available(H, &a), 1000000); /* cached now */
    assert_int_equal(th_req(H, "DELETE", path, g_admin, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    assert_int_equal(th_req(H, "GET", "/v1/account", a.key, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    th_resp_free(&r);
}

/* The body without the last_used_at member, for comparing two answers. */
static void without_last_use(const char *body, const char *used, char *out, size_t cap) {
    const char *at = strstr(body, used);
    if (!at) fail_msg("%s not in %s", used, body);
    snprintf(out, cap, "%.*s%s", (int)(at - body), body, at + strlen(used));
}

/* A cached answer is the first answer's text with this request's last use in it: the same bytes
 * otherwise, even for a label that holds the member's own text (quotes, a backslash). */
static void test_cached_text_tracks_last_use(void **st) {
    (void)st;
    static const char label[] = "q\"last_used_at\":null,\"x\\";
    th_resp r;
    assert_int_equal(th_req(H, "POST", "/v1/admin/keys", g_admin,
                            "{\"role\":\"client\",\"label\":\"q\\\"last_used_at\\\":null,"
                            "\\\"x\\\\\"}",
                            &r),
                     0);
    if (r.status != 201) fail_msg("create key: %ld %s", r.status, r.body ? r.body : "");
    client a;
    snprintf(a.key, sizeof a.key, "%s", jstr(r.json, "api_key"));
    snprintf(a.address, sizeof a.address, "%s", jstr(r.json, "address"));
    th_resp_free(&r);
    mint(H, a.address, "1");
    char used[3][64], rest[3][2048];
    for (int i = 0; i < 3; i++) {
        if (i) usleep(3000); /* a later millisecond for each use */
        assert_int_equal(th_req(H, "GET", "/v1/account", a.key, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_non_null(r.json);
        assert_string_equal(jstr(r.json, "label"), label);
        const char *u = jstr(r.json, "last_used_at");
        assert_non_null(u);
        snprintf(used[i], sizeof used[i], "\"last_used_at\":\"%s\"", u);
        without_last_use(r.body, used[i], rest[i], sizeof rest[i]);
        th_resp_free(&r);
    }
    /* answers 2 and 3 come from the cache: each shows its own request as the last use */
    assert_true(strcmp(used[1], used[0]) > 0);
    assert_true(strcmp(used[2], used[1]) > 0);
    assert_string_equal(rest[1], rest[0]);
    assert_string_equal(rest[2], rest[0]);
}

/* ---- two hosts on one PostgreSQL ---- */

static th_host *A, *B;

static int pg_setup(void **st) {
    (void)st;
    if (!th_on_postgres()) return 0;
    A = th_start(PLUGINS, "cluster: { node_id: acct-a, poll_ms: 200 }\n");
    if (!A || read_admin(A) != 0) return -1;
    B = th_start_beside(A, PLUGINS, "cluster: { node_id: acct-b, poll_ms: 200 }\n");
    return B ? 0 : -1;
}

static int pg_teardown(void **st) {
    (void)st;
    int rc = 0;
    if (B && th_end(&B) != 0) rc = -1;
    if (A && th_end(&A) != 0) rc = -1;
    return rc;
}

static void test_other_host_transfer_shows(void **st) {
    (void)st;
    if (!th_on_postgres()) skip();
    client a, b;
    client_new(A, "10", &a);
    client_new(A, "0", &b);
    assert_int_equal(available(B, &a), 10000000);
    assert_int_equal(available(B, &a), 10000000);
    assert_int_equal(available(B, &b), 0);
    assert_int_equal(transfer(A, &a, &b, "2"), 201);
    assert_int_equal(available(B, &a), 8000000);
    assert_int_equal(available(B, &b), 2000000);
    /* and the other way round */
    assert_int_equal(transfer(B, &b, &a, "1"), 201);
    assert_int_equal(available(A, &a), 9000000);
    assert_int_equal(available(B, &a), 9000000);
}

int main(void) {
    const struct CMUnitTest one[] = {
        cmocka_unit_test(test_moves_show_at_once),
        cmocka_unit_test(test_batch_open_while_read),
        cmocka_unit_test(test_failed_batch_keeps_balance),
        cmocka_unit_test(test_revoked_key_fails_at_once),
        cmocka_unit_test(test_cached_text_tracks_last_use),
    };
    const struct CMUnitTest two[] = {
        cmocka_unit_test(test_other_host_transfer_shows),
    };
    int failed = cmocka_run_group_tests_name("one host", one, setup, teardown);
    failed += cmocka_run_group_tests_name("two hosts (PostgreSQL)", two, pg_setup, pg_teardown);
    return failed;
}
