/* GET /v1/exchange/ticker from memory: best bid/ask from the in-memory book, and the 24 h
 * statistics and last price from the trades, read with SQL once and kept (m->stats) until they
 * can have changed. They change only when a trade commits, or when the oldest trade of the 24 h
 * window leaves it. Which trade commits a host can see:
 *  - one host (SQLite): every trade is its own; m->trade_gen moves on when a trade is applied
 *    and again when the writer's batch holding it ends (committed or rolled back), so statistics
 *    read from a snapshot taken before either are never kept under the newer generation;
 *  - several hosts (PostgreSQL): every trade changes a price level, so it moves the market's
 *    stored sequence in exchange_books (book.c); the statistics are keyed by that row as read in
 *    the same snapshot as the trades: one indexed read per ticker instead of three aggregates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exchange.h"

#define DAY_MS (24LL * 3600 * 1000)

/* Signed amount as a decimal string. */
static void add_signed(cJSON *o, const char *k, int64_t v, int dec) {
    char buf[AITBC_MONEY_MAX + 1];
    aitbc_money_format(v < 0 ? -v : v, dec, buf + 1);
    buf[0] = '-';
    cJSON_AddStringToObject(o, k, v < 0 ? buf : buf + 1);
}

/* (last - open) / open in percent with two decimals, rounded half away from zero. */
static void add_percent(cJSON *o, const char *k, int64_t open, int64_t last) {
    __int128 num = (__int128)(last - open) * 10000 * 2;
    __int128 q = num / open;
    q = q >= 0 ? (q + 1) / 2 : (q - 1) / 2;
    int neg = q < 0;
    if (neg) q = -q;
    char buf[48];
    snprintf(buf, sizeof buf, "%s%lld.%02lld", neg ? "-" : "", (long long)(q / 100),
             (long long)(q % 100));
    cJSON_AddStringToObject(o, k, buf);
}

static void add_price(cJSON *o, const char *k, int64_t v, int dec) {
    if (v < 0)
        cJSON_AddNullToObject(o, k);
    else
        aitbc_json_add_money(o, k, v, dec);
}

/* The price of sql's first row (?1 the market, ?2 since when since is not NULL), -1 for none. */
static int64_t one_price(const aitbc_host_api *api, aitbc_txn *t, const char *sql, const char *mk,
                         const int64_t *since) {
    aitbc_stmt *s = api->stmt(t, sql);
    int64_t v = -1;
    if (!s) return -1;
    api->bind_text(s, 1, mk);
    if (since) api->bind_int64(s, 2, *since);
    if (api->step(s) == AITBC_ROW) v = api->col_int64(s, 0);
    api->stmt_done(s);
    return v;
}

/* The statistics of m's trades in t for the 24 h before now. 0 or AITBC_EIO. */
static int stats_read(const ex_state *es, aitbc_txn *t, const ex_market *m, int64_t now,
                      ex_day_stats *st) {
    const aitbc_host_api *api = es->api;
    int64_t since = now - DAY_MS;
    aitbc_stmt *s = api->stmt(t, "SELECT COUNT(*), COALESCE(MIN(price), -1), COALESCE(MAX(price),"
                                 " -1), CAST(COALESCE(SUM(quantity), 0) AS INTEGER),"
                                 " CAST(COALESCE(SUM(notional), 0) AS INTEGER),"
                                 " COALESCE(MIN(ts_ms), -1)"
                                 " FROM exchange_trades WHERE market = ?1 AND ts_ms >= ?2");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, m->symbol);
    api->bind_int64(s, 2, since);
    memset(st, 0, sizeof *st);
    st->low = st->high = -1;
    int64_t oldest = -1;
    if (api->step(s) == AITBC_ROW) {
        st->count = api->col_int64(s, 0);
        st->low = api->col_int64(s, 1);
        st->high = api->col_int64(s, 2);
        st->vol = api->col_int64(s, 3);
        st->qvol = api->col_int64(s, 4);
        oldest = api->col_int64(s, 5);
    }
    api->stmt_done(s);
    st->open = one_price(api, t,
                         "SELECT price FROM exchange_trades WHERE market = ?1 AND"
                         " ts_ms >= ?2 ORDER BY seq LIMIT 1",
                         m->symbol, &since);
    st->last = one_price(api, t,
                         "SELECT price FROM exchange_trades WHERE market = ?1"
                         " ORDER BY seq DESC LIMIT 1",
                         m->symbol, NULL);
    st->from_ms = now;
    /* A trade at ts is in the window while now - DAY_MS <= ts. */
    st->until_ms = oldest >= 0 ? oldest + DAY_MS : INT64_MAX;
    st->valid = 1;
    return 0;
}

static int stats_fresh(const ex_day_stats *st, uint64_t key, int64_t now) {
    return st->valid && st->key == key && now >= st->from_ms && now <= st->until_ms;
}

void ex_ticker_traded(ex_market *m) {
    m->trade_gen++;
    if (m->in_batch) m->batch_traded = 1;
}

/* The ticker object without its `time` field, as text ending before the closing brace. */
static char *ticker_text(const ex_market *m, const ex_day_stats *st, const ex_book_top *top) {
    int qd = m->p.quote_dec, bd = m->p.base_dec;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "market", m->symbol);
    add_price(o, "last_price", st->last, qd);
    add_price(o, "bid_price", top->bid, qd);
    aitbc_json_add_money(o, "bid_qty", top->bid_qty, bd);
    add_price(o, "ask_price", top->ask, qd);
    aitbc_json_add_money(o, "ask_qty", top->ask_qty, bd);
    add_price(o, "open_24h", st->open, qd);
    add_price(o, "high_24h", st->high, qd);
    add_price(o, "low_24h", st->low, qd);
    aitbc_json_add_money(o, "volume_24h", st->vol, bd);
    aitbc_json_add_money(o, "quote_volume_24h", st->qvol, qd);
    if (st->open > 0 && st->last >= 0) {
        add_signed(o, "change_24h", st->last - st->open, qd);
        add_percent(o, "change_percent_24h", st->open, st->last);
    } else {
        cJSON_AddNullToObject(o, "change_24h");
        cJSON_AddNullToObject(o, "change_percent_24h");
    }
    aitbc_json_add_i64(o, "trade_count_24h", st->count);
    char *text = aitbc_json_print(o);
    cJSON_Delete(o);
    size_t n = text ? strlen(text) : 0;
    if (n) text[n - 1] = '\0'; /* the closing brace: `time` follows */
    return text;
}

static int same_top(const ex_book_top *a, const ex_book_top *b) {
    return a->bid == b->bid && a->bid_qty == b->bid_qty && a->ask == b->ask &&
           a->ask_qty == b->ask_qty;
}

/* The whole ticker object of text (ticker_text) at now, malloc'd. */
static char *with_time(const char *text, int64_t now) {
    char ts[AITBC_TIME_MAX];
    aitbc_time_format(now, ts);
    size_t n = strlen(text), cap = n + sizeof ",\"time\":\"\"}" + strlen(ts);
    char *out = malloc(cap);
    if (out) snprintf(out, cap, "%s,\"time\":\"%s\"}", text, ts);
    return out;
}

/* m's ticker as JSON text (malloc'd), or NULL on a storage error. */
static char *ticker(ex_state *es, ex_market *m, int64_t now) {
    const aitbc_host_api *api = es->api;
    aitbc_txn *t = NULL;
    ex_day_stats st;
    ex_book_top top;
    char *out = NULL;
    int keep = 1; /* the key below says which trades a fresh read sees */
    pthread_mutex_lock(&m->lock);
    uint64_t key = m->trade_gen;
    if (es->shared) {
        t = api->txn_begin(AITBC_TXN_READ);
        int64_t stored = -1;
        /* Another host's orders: catch up first, as the order book snapshot does (not while
         * this host's writer has changes of its own in an open batch). */
        int rc = !t            ? AITBC_EBUSY
                 : m->in_batch ? ex_book_stored(m, t, &stored)
                               : ex_book_sync(m, t, &stored);
        keep = rc == 0 && stored >= 0;
        key = (uint64_t)stored;
    }
    int hit = keep && stats_fresh(&m->stats, key, now);
    if (hit) st = m->stats;
    const ex_side *b = &m->book.side[EX_BUY], *a = &m->book.side[EX_SELL];
    top.bid = b->n ? ex_best_level(b, 0)->price : -1;
    top.ask = a->n ? ex_best_level(a, 0)->price : -1;
    top.bid_qty = b->n ? ex_best_level(b, 0)->total : 0;
    top.ask_qty = a->n ? ex_best_level(a, 0)->total : 0;
    if (hit && m->ticker_text && same_top(&m->top, &top)) out = with_time(m->ticker_text, now);
    pthread_mutex_unlock(&m->lock);
    int rc = 0;
    if (!hit) {
        aitbc_txn *r = t ? t : api->txn_begin(AITBC_TXN_READ);
        rc = r ? stats_read(es, r, m, now, &st) : AITBC_EBUSY;
        if (r && r != t) api->txn_commit(r);
    }
    if (t) api->txn_commit(t);
    if (rc != 0 || out) return out;
    char *text = ticker_text(m, &st, &top);
    if (!text) return NULL;
    out = with_time(text, now);
    st.key = key;
    pthread_mutex_lock(&m->lock);
    /* One host: a trade applied since the key was taken makes this read stale already. */
    if (keep && (es->shared || m->trade_gen == key)) {
        m->stats = st;
        m->top = top;
        free(m->ticker_text);
        m->ticker_text = text;
        text = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    free(text);
    return out;
}

/* Every market's ticker as one JSON array (malloc'd), or NULL. */
static char *all_markets(ex_state *es, int64_t now) {
    char **one = calloc(es->nmarkets + 1, sizeof *one);
    size_t len = 2 + es->nmarkets; /* brackets, commas, NUL */
    int ok = one != NULL;
    for (size_t i = 0; ok && i < es->nmarkets; i++) {
        one[i] = ticker(es, &es->markets[i], now);
        ok = one[i] != NULL;
        if (ok) len += strlen(one[i]);
    }
    char *out = ok ? malloc(len) : NULL;
    if (out) {
        size_t o = 0;
        out[o++] = '[';
        for (size_t i = 0; i < es->nmarkets; i++) {
            if (i) out[o++] = ',';
            size_t n = strlen(one[i]);
            memcpy(out + o, one[i], n);
            o += n;
        }
        out[o++] = ']';
        out[o] = '\0';
    }
    for (size_t i = 0; one && i < es->nmarkets; i++)
        free(one[i]);
    free(one);
    return out;
}

void ex_h_ticker(aitbc_request *req, void *user) {
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *sym = api->req_query(req, "market");
    ex_market *m = sym ? ex_find_market(es, sym) : NULL;
    if (sym && !m) {
        api->respond_error(req, 400, "invalid_argument", "market", "unknown market");
        return;
    }
    int64_t now = api->now_ms();
    char *out = m ? ticker(es, m, now) : all_markets(es, now);
    if (out)
        api->respond_raw(req, 200, "application/json", out, strlen(out));
    else
        api->respond_error(req, 500, "internal", NULL, "internal error");
    free(out);
}
