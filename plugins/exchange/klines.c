/* GET /v1/exchange/klines: Binance-style OHLCV candles computed from the stored trades, oldest
 * first. A candle covers [open_time, open_time + interval) with open_time aligned to the interval
 * from the Unix epoch (UTC midnight for 1d); open/close are the first/last trade by sequence.
 * Intervals without a trade are left out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exchange.h"

#define KLINES_DEFAULT 500
#define KLINES_MAX 1000

static const struct {
    const char *name;
    int64_t ms;
} k_intervals[] = {
    {"1m", 60000LL},   {"5m", 300000LL},   {"15m", 900000LL},
    {"1h", 3600000LL}, {"4h", 14400000LL}, {"1d", 86400000LL},
};

static int64_t interval_ms(const char *name) {
    for (size_t i = 0; name && i < sizeof k_intervals / sizeof k_intervals[0]; i++)
        if (strcmp(name, k_intervals[i].name) == 0) return k_intervals[i].ms;
    return 0;
}

/* start/end: Unix milliseconds (digits only, as Binance takes them) or RFC 3339. */
static int parse_time(const char *text, int64_t *out) {
    if (!text || !text[0]) return -1;
    size_t n = strspn(text, "0123456789");
    if (n == strlen(text)) {
        if (n > 15 || (n > 1 && text[0] == '0')) return -1; /* beyond year 30000, or padded */
        *out = strtoll(text, NULL, 10);
        return 0;
    }
    return aitbc_time_parse(text, out) == 0 && *out >= 0 ? 0 : -1;
}

static int parse_limit(const char *text, int *out) {
    *out = KLINES_DEFAULT;
    if (!text) return 0;
    size_t n = strlen(text);
    if (n == 0 || n > 4 || strspn(text, "0123456789") != n || text[0] == '0') return -1;
    *out = atoi(text);
    return *out <= KLINES_MAX ? 0 : -1;
}

/* Candles of one market whose open_time lies in [first_open, last_open]. From the start when the
 * caller gave a start time, else the newest `limit`; either way printed oldest first. */
static const char *const k_sql[2] = {
    "WITH k AS (SELECT ts_ms / ?2 AS b, MIN(seq) AS fs, MAX(seq) AS ls, MAX(price) AS hi,"
    " MIN(price) AS lo, CAST(SUM(quantity) AS INTEGER) AS v,"
    " CAST(SUM(notional) AS INTEGER) AS qv, COUNT(*) AS n"
    " FROM exchange_trades WHERE market = ?1 AND ts_ms >= ?3 AND ts_ms <= ?4"
    " GROUP BY b ORDER BY b DESC LIMIT ?5)"
    " SELECT k.b, o.price, k.hi, k.lo, c.price, k.v, k.qv, k.n FROM k"
    " JOIN exchange_trades o ON o.seq = k.fs JOIN exchange_trades c ON c.seq = k.ls ORDER BY k.b",
    "WITH k AS (SELECT ts_ms / ?2 AS b, MIN(seq) AS fs, MAX(seq) AS ls, MAX(price) AS hi,"
    " MIN(price) AS lo, CAST(SUM(quantity) AS INTEGER) AS v,"
    " CAST(SUM(notional) AS INTEGER) AS qv, COUNT(*) AS n"
    " FROM exchange_trades WHERE market = ?1 AND ts_ms >= ?3 AND ts_ms <= ?4"
    " GROUP BY b ORDER BY b LIMIT ?5)"
    " SELECT k.b, o.price, k.hi, k.lo, c.price, k.v, k.qv, k.n FROM k"
    " JOIN exchange_trades o ON o.seq = k.fs JOIN exchange_trades c ON c.seq = k.ls ORDER BY k.b",
};

static cJSON *candle(const aitbc_host_api *api, aitbc_stmt *s, const ex_market *m, int64_t iv) {
    cJSON *o = cJSON_CreateObject();
    char ts[AITBC_TIME_MAX];
    aitbc_time_format(api->col_int64(s, 0) * iv, ts);
    cJSON_AddStringToObject(o, "open_time", ts);
    aitbc_json_add_money(o, "open", api->col_int64(s, 1), m->p.quote_dec);
    aitbc_json_add_money(o, "high", api->col_int64(s, 2), m->p.quote_dec);
    aitbc_json_add_money(o, "low", api->col_int64(s, 3), m->p.quote_dec);
    aitbc_json_add_money(o, "close", api->col_int64(s, 4), m->p.quote_dec);
    aitbc_json_add_money(o, "volume", api->col_int64(s, 5), m->p.base_dec);
    aitbc_json_add_money(o, "quote_volume", api->col_int64(s, 6), m->p.quote_dec);
    aitbc_json_add_i64(o, "trades", api->col_int64(s, 7));
    return o;
}

static void bad(aitbc_request *req, const aitbc_host_api *api, const char *field, const char *msg) {
    api->respond_error(req, 400, "invalid_argument", field, "%s", msg);
}

void ex_h_klines(aitbc_request *req, void *user) {
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *sym = api->req_query(req, "market");
    ex_market *m = sym ? ex_find_market(es, sym) : es->nmarkets == 1 ? &es->markets[0] : NULL;
    if (!m) {
        bad(req, api, "market", "market is required and must be a configured market");
        return;
    }
    int64_t iv = interval_ms(api->req_query(req, "interval"));
    if (!iv) {
        bad(req, api, "interval", "interval must be one of 1m, 5m, 15m, 1h, 4h, 1d");
        return;
    }
    const char *qs = api->req_query(req, "start"), *qe = api->req_query(req, "end");
    int64_t start = 0, end = INT64_MAX / 2;
    if (qs && parse_time(qs, &start) != 0) {
        bad(req, api, "start", "start must be Unix milliseconds or an RFC 3339 time");
        return;
    }
    if (qe && parse_time(qe, &end) != 0) {
        bad(req, api, "end", "end must be Unix milliseconds or an RFC 3339 time");
        return;
    }
    if (start > end) {
        bad(req, api, "end", "end must not be before start");
        return;
    }
    int limit;
    if (parse_limit(api->req_query(req, "limit"), &limit) != 0) {
        bad(req, api, "limit", "limit must be an integer 1..1000");
        return;
    }
    /* Candles opening in [start, end]: trades from the first boundary at or after start up to the
     * end of the candle that opens at or before end. */
    int64_t from = (start + iv - 1) / iv * iv;
    int64_t to = end / iv * iv + iv - 1;

    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = t ? api->stmt(t, k_sql[qs != NULL]) : NULL;
    cJSON *items = s ? cJSON_CreateArray() : NULL;
    int rc = items ? AITBC_ROW : AITBC_EIO;
    if (items) {
        api->bind_text(s, 1, m->symbol);
        api->bind_int64(s, 2, iv);
        api->bind_int64(s, 3, from);
        api->bind_int64(s, 4, to);
        api->bind_int64(s, 5, limit);
        while ((rc = api->step(s)) == AITBC_ROW)
            cJSON_AddItemToArray(items, candle(api, s, m, iv));
    }
    if (s) api->stmt_done(s);
    if (t) api->txn_commit(t);
    if (rc != AITBC_DONE) {
        cJSON_Delete(items);
        api->respond_error(req, rc == AITBC_EBUSY ? 503 : 500,
                           rc == AITBC_EBUSY ? "unavailable" : "internal", NULL,
                           "the candles could not be read");
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "market", m->symbol);
    cJSON_AddStringToObject(out, "interval", api->req_query(req, "interval"));
    cJSON_AddItemToObject(out, "items", items);
    api->respond_json(req, 200, out);
}
