/* Crash recovery under mixed load: the real host with auth-apikey, chain, explorer, client,
 * miner, admin, exchange and marketplace takes keyed job submissions, signed miner completions,
 * ledger transfers and crossing exchange orders from several threads at once; it is killed with
 * SIGKILL mid-load (three times, at different depths of the load) and restarted on the same data.
 * After each kill:
 *   - `aitbc-host --verify-chain` passes on the data the crash left;
 * after each restart:
 *   - every write that was answered 2xx is there (job, completion, transfer, order);
 *   - every Idempotency-Key that was sent, retried, is answered 201 with the first answer's id
 *     when the client saw one (run once, never twice);
 *   - nothing is half-applied: over every account, available + locked = minted, for AIT and BTC;
 *   - the order book the exchange rebuilt equals the open orders stored;
 *   - every job is in a valid state, and a completion that was answered left it COMPLETED. */
#include "it_jobs_common.h"
#include <aitbc/money.h>
#include <signal.h>
#include <stdatomic.h>

#define ROUNDS 3
#define MAX_WRITES 2000 /* per worker and round */
#define JOB_TYPE "crash-mixed"
#define MARKET "AIT-BTC"
#define TREASURY_YAML "treasury_address: \"" JT_TREASURY "\""

/* One write a worker sent: its key, and the id of what it made if it was answered 2xx. */
typedef struct write_rec {
    char key[64];
    char id[80];
} write_rec;

typedef enum { W_JOBS, W_TRANSFERS, W_SELLS, W_BUYS, W_MINER, W_KINDS } worker_kind;

typedef struct worker {
    worker_kind kind;
    int round;
    const jt_client *who;  /* the client it acts for (W_MINER: none) */
    const jt_client *peer; /* W_TRANSFERS: the receiver */
    const jt_miner *miner;
    write_rec w[MAX_WRITES];
    int nw;
    char done[MAX_WRITES][64]; /* W_MINER: jobs whose completion was answered 200 */
    int ndone;
    pthread_t thread;
} worker;

static atomic_int g_acks;
static int64_t g_btc_minted;

static void mint_btc(const jt_client *c, const char *amount) {
    char body[256];
    th_resp r;
    snprintf(body, sizeof body, "{\"address\":\"%s\",\"asset\":\"BTC\",\"amount\":\"%s\"}",
             c->address, amount);
    if (th_req(H, "POST", "/v1/admin/mint", jt_admin(H), body, &r) != 0 || r.status != 201)
        fail_msg("mint BTC: %ld %s", r.status, r.body);
    th_resp_free(&r);
    int64_t v;
    assert_int_equal(aitbc_money_parse(amount, 8, &v), 0);
    g_btc_minted += v;
}

/* The request a key stands for; the same body every time it is sent. */
static int keyed_write(worker *wk, int i, th_resp *r) {
    char header[96], body[512], path[64] = "/v1/jobs";
    snprintf(header, sizeof header, "Idempotency-Key: %s", wk->w[i].key);
    const char *headers[] = {header, NULL};
    switch (wk->kind) {
    case W_JOBS:
        snprintf(body, sizeof body,
                 "{\"payload\":{\"type\":\"" JOB_TYPE "\",\"prompt\":\"%s\"},\"max_price\":\"2\","
                 "\"ttl_seconds\":600}",
                 wk->w[i].key);
        break;
    case W_TRANSFERS:
        snprintf(path, sizeof path, "/v1/transfers");
        snprintf(body, sizeof body, "{\"to\":\"%s\",\"asset\":\"AIT\",\"amount\":\"0.25\"}",
                 wk->peer->address);
        break;
    default: {
        /* Sells from 0.000500 up, buys from 0.000509 down, one tick apart: about half cross. */
        int k = i % 10, buy = wk->kind == W_BUYS;
        snprintf(path, sizeof path, "/v1/exchange/orders");
        snprintf(body, sizeof body,
                 "{\"market\":\"" MARKET "\",\"side\":\"%s\",\"type\":\"limit\","
                 "\"price\":\"0.000%d\",\"quantity\":\"%s\"}",
                 buy ? "buy" : "sell", buy ? 509 - k : 500 + k, buy ? "1.5" : "1");
        break;
    }
    }
    memset(r, 0, sizeof *r);
    return th_req_ex(H, "POST", path, wk->who->key, body, headers, r);
}

static const char *answer_id(const worker *wk, const th_resp *r) {
    return jt_str(r->json, wk->kind == W_JOBS        ? "job_id"
                           : wk->kind == W_TRANSFERS ? "hash"
                                                     : "order_id");
}

/* Polls for jobs and completes each at once (so it runs nothing it does not report). */
static void miner_loop(worker *wk) {
    for (;;) {
        th_resp r;
        memset(&r, 0, sizeof r);
        if (jt_beat(H, wk->miner, 1, "[]", &r) != 200) {
            th_resp_free(&r);
            return;
        }
        const cJSON *j;
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(r.json, "jobs")) {
            th_resp c;
            memset(&c, 0, sizeof c);
            long st = jt_complete(H, wk->miner, jt_str(j, "job_id"), jt_int(j, "attempt"),
                                  "{\"text\":\"ok\"}", 1, &c);
            if (st == 200 && wk->ndone < MAX_WRITES) {
                snprintf(wk->done[wk->ndone++], 64, "%s", jt_str(j, "job_id"));
                atomic_fetch_add(&g_acks, 1);
            }
            th_resp_free(&c);
            if (st == 0) break;
        }
        th_resp_free(&r);
    }
}

/* Sends keyed writes until the host stops answering. A key counts as sent before it goes out:
 * the crash may land before, during or after its work. */
static void *worker_main(void *arg) {
    worker *wk = arg;
    if (wk->kind == W_MINER) {
        miner_loop(wk);
        return NULL;
    }
    static const char *names[] = {"job", "xfr", "sell", "buy"};
    while (wk->nw < MAX_WRITES) {
        write_rec *w = &wk->w[wk->nw];
        snprintf(w->key, sizeof w->key, "cm-%s-%d-%d", names[wk->kind], wk->round, wk->nw);
        wk->nw++;
        th_resp r;
        int rc = keyed_write(wk, wk->nw - 1, &r);
        int alive = rc == 0 && r.status != 0;
        if (alive && r.status == 201 && answer_id(wk, &r)) {
            snprintf(w->id, sizeof w->id, "%s", answer_id(wk, &r));
            atomic_fetch_add(&g_acks, 1);
        } else if (alive && r.status != 402) { /* 402: funds are locked in open orders */
            fprintf(stderr, "%s: %ld %s\n", w->key, r.status, r.body ? r.body : "");
        }
        th_resp_free(&r);
        if (!alive) break;
    }
    return NULL;
}

static int enough_acks(void *arg) {
    return atomic_load(&g_acks) >= *(int *)arg;
}

/* ---------------- checks ---------------- */

static long get(const char *path, const char *key, th_resp *r) {
    memset(r, 0, sizeof *r);
    if (th_req(H, "GET", path, key, NULL, r) != 0) fail_msg("GET %s: no answer", path);
    return r->status;
}

static int valid_state(const char *s) {
    static const char *ok[] = {"QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELED", "EXPIRED"};
    for (size_t i = 0; s && i < sizeof ok / sizeof *ok; i++)
        if (!strcmp(s, ok[i])) return 1;
    return 0;
}

static void job_check(const char *id, int completed) {
    char path[160];
    th_resp r;
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    if (get(path, jt_admin(H), &r) != 200) fail_msg("job %s lost: %ld", id, r.status);
    const char *state = jt_str(r.json, "state");
    if (!valid_state(state) || (completed && strcmp(state, "COMPLETED")))
        fail_msg("job %s: state %s (completion answered: %d)", id, state, completed);
    th_resp_free(&r);
}

/* Every answered write is there. */
static void acknowledged_present(worker *wks) {
    char path[200];
    th_resp r;
    for (int k = 0; k < W_KINDS; k++) {
        worker *wk = &wks[k];
        for (int i = 0; i < wk->ndone; i++)
            job_check(wk->done[i], 1);
        for (int i = 0; i < wk->nw; i++) {
            if (!wk->w[i].id[0]) continue;
            if (wk->kind == W_JOBS) {
                job_check(wk->w[i].id, 0);
                continue;
            }
            snprintf(path, sizeof path,
                     wk->kind == W_TRANSFERS ? "/v1/explorer/transactions/%s"
                                             : "/v1/exchange/orders/%s",
                     wk->w[i].id);
            if (get(path, wk->who->key, &r) != 200)
                fail_msg("%s (%s) lost: %ld", wk->w[i].id, wk->w[i].key, r.status);
            th_resp_free(&r);
        }
    }
}

/* Every key sent, retried: 201, with the first answer's id when there was one. */
static void retries_answer_once(worker *wks) {
    for (int k = 0; k < W_KINDS; k++) {
        worker *wk = &wks[k];
        for (int i = 0; i < wk->nw; i++) {
            th_resp r;
            if (keyed_write(wk, i, &r) != 0 || (r.status != 201 && r.status != 402))
                fail_msg("retry %s: %ld %s", wk->w[i].key, r.status, r.body);
            if (wk->w[i].id[0] && (r.status != 201 || strcmp(answer_id(wk, &r), wk->w[i].id)))
                fail_msg("retry %s answered %s, first answer %s", wk->w[i].key, r.body,
                         wk->w[i].id);
            if (wk->kind == W_JOBS && r.status == 201) job_check(answer_id(wk, &r), 0);
            th_resp_free(&r);
        }
    }
}

static void btc_conserved(const jt_client *cs, int n) {
    int64_t sum = 0, a, l;
    for (int i = 0; i < n; i++) {
        jt_balance_of(H, cs[i].address, "BTC", 8, &a, &l);
        sum += a + l;
    }
    jt_balance_of(H, JT_TREASURY, "BTC", 8, &a, &l);
    sum += a + l;
    if (sum != g_btc_minted)
        fail_msg("BTC: balances %lld != minted %lld", (long long)sum, (long long)g_btc_minted);
}

/* Remaining base quantity per (side, price) in base units; levels sorted by the caller's walk. */
typedef struct level {
    int buy;
    int64_t price, qty;
} level;

static void add_level(level *ls, int *n, int buy, int64_t price, int64_t qty) {
    for (int i = 0; i < *n; i++)
        if (ls[i].buy == buy && ls[i].price == price) {
            ls[i].qty += qty;
            return;
        }
    assert_true(*n < 256);
    ls[(*n)++] = (level){buy, price, qty};
}

static int64_t money(const char *s, int decimals) {
    int64_t v = -1;
    if (!s || aitbc_money_parse(s, decimals, &v) != 0) fail_msg("not money: %s", s ? s : "null");
    return v;
}

static int level_cmp(const void *a, const void *b) {
    const level *x = a, *y = b;
    if (x->buy != y->buy) return x->buy - y->buy;
    return x->price < y->price ? -1 : x->price > y->price;
}

/* The live book (GET /v1/exchange/orderbook) equals the stored open orders of every trader. */
static void book_matches_open_orders(const jt_client *traders, int n) {
    level book[256], open[256];
    int nb = 0, no = 0;
    th_resp r;
    assert_int_equal(get("/v1/exchange/orderbook?market=" MARKET "&depth=500", jt_admin(H), &r),
                     200);
    for (int buy = 0; buy < 2; buy++) {
        const cJSON *lv;
        cJSON_ArrayForEach(lv, cJSON_GetObjectItemCaseSensitive(r.json, buy ? "bids" : "asks"))
            add_level(book, &nb, buy, money(cJSON_GetArrayItem(lv, 0)->valuestring, 8),
                      money(cJSON_GetArrayItem(lv, 1)->valuestring, 6));
    }
    th_resp_free(&r);
    for (int t = 0; t < n; t++) {
        char path[256], cursor[128] = "";
        do {
            snprintf(path, sizeof path, "/v1/exchange/orders?status=open&limit=500%s%s",
                     cursor[0] ? "&cursor=" : "", cursor);
            assert_int_equal(get(path, traders[t].key, &r), 200);
            const cJSON *o;
            cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(r.json, "items"))
                add_level(open, &no, !strcmp(jt_str(o, "side"), "buy"),
                          money(jt_str(o, "price"), 8), money(jt_str(o, "remaining_quantity"), 6));
            const char *next = jt_str(r.json, "next_cursor");
            snprintf(cursor, sizeof cursor, "%s", next ? next : "");
            th_resp_free(&r);
        } while (cursor[0]);
    }
    qsort(book, (size_t)nb, sizeof *book, level_cmp);
    qsort(open, (size_t)no, sizeof *open, level_cmp);
    assert_int_equal(nb, no);
    for (int i = 0; i < nb; i++)
        if (book[i].buy != open[i].buy || book[i].price != open[i].price ||
            book[i].qty != open[i].qty)
            fail_msg("level %d: book %s %lld × %lld, stored %s %lld × %lld", i,
                     book[i].buy ? "bid" : "ask", (long long)book[i].price, (long long)book[i].qty,
                     open[i].buy ? "bid" : "ask", (long long)open[i].price, (long long)open[i].qty);
}

static void verify_chain_on_disk(void) {
    const char *args[] = {"--verify-chain", NULL};
    char *out = NULL;
    int st = th_run_once_in(th_data_dir(H), jt_plugins_yaml(), NULL, args, &out);
    if (st != 0) fail_msg("--verify-chain: %d\n%s", st, out ? out : "");
    free(out);
}

/* ---------------- the test ---------------- */

static void mixed_load_survives_kill_9(void **st) {
    (void)st;
    H = jt_start_full("heartbeat_interval_s: 30, lease_s: 600, max_attempts: 3", NULL,
                      "  exchange: { " TREASURY_YAML " }\n"
                      "  marketplace: { hour_ms: 60000, tick_ms: 20 }\n",
                      NULL);
    assert_non_null(H);
    static jt_client cs[4]; /* 0 submits jobs, 1 transfers to 0, 2 sells, 3 buys */
    for (int i = 0; i < 4; i++)
        jt_client_new(H, "100000", &cs[i]);
    mint_btc(&cs[3], "10");
    jt_miner m;
    assert_int_equal(jt_miner_register(H, &m, caps(JOB_TYPE), 4, "0.5"), 201);

    static worker wks[W_KINDS];
    const int kill_after[ROUNDS] = {60, 300, 900}; /* answered writes before each kill */
    for (int round = 0; round < ROUNDS; round++) {
        atomic_store(&g_acks, 0);
        const jt_client *who[W_KINDS] = {&cs[0], &cs[1], &cs[2], &cs[3], NULL};
        for (int k = 0; k < W_KINDS; k++) {
            memset(&wks[k], 0, sizeof wks[k]);
            wks[k].kind = (worker_kind)k;
            wks[k].round = round;
            wks[k].who = who[k];
            wks[k].peer = &cs[0];
            wks[k].miner = &m;
            assert_int_equal(pthread_create(&wks[k].thread, NULL, worker_main, &wks[k]), 0);
        }
        int want = kill_after[round];
        assert_true(th_wait_until(enough_acks, &want, 30000));
        assert_int_equal(th_kill(H), 128 + SIGKILL);
        for (int k = 0; k < W_KINDS; k++)
            pthread_join(wks[k].thread, NULL);

        int sent[W_KINDS], acked[W_KINDS];
        for (int k = 0; k < W_KINDS; k++) {
            sent[k] = wks[k].nw;
            acked[k] = wks[k].ndone;
            for (int i = 0; i < wks[k].nw; i++)
                acked[k] += wks[k].w[i].id[0] != 0;
        }
        printf("round %d: killed after jobs %d/%d, transfers %d/%d, sells %d/%d, buys %d/%d "
               "answered/sent, completions %d\n",
               round, acked[W_JOBS], sent[W_JOBS], acked[W_TRANSFERS], sent[W_TRANSFERS],
               acked[W_SELLS], sent[W_SELLS], acked[W_BUYS], sent[W_BUYS], acked[W_MINER]);
        verify_chain_on_disk();
        assert_int_equal(th_restart(H, 0), 0);
        acknowledged_present(wks);
        book_matches_open_orders(&cs[2], 2);
        assert_true(jt_conserved(H));
        btc_conserved(cs, 4);
        retries_answer_once(wks);
        book_matches_open_orders(&cs[2], 2);
        assert_true(jt_conserved(H));
        btc_conserved(cs, 4);
    }
    /* The load did what it is for: orders crossed, miners completed. */
    th_resp r;
    assert_int_equal(get("/v1/exchange/trades?market=" MARKET "&limit=1", jt_admin(H), &r), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 1);
    th_resp_free(&r);
    assert_true(wks[W_MINER].ndone > 0);
    assert_int_equal(th_stop(H), 0);
    verify_chain_on_disk();
    th_free(H);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mixed_load_survives_kill_9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
