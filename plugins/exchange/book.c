/* The in-memory books: rebuilt from the open orders in the database at start, published as
 * changed price levels on the bus, and served as an aggregated snapshot whose `sequence` is the
 * counter the `orderbook` events carry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exchange.h"

/* Open orders from the database into the books: every market's (only == NULL; each under its
 * lock) or only's into *into (the caller's, no lock). Returns 0 or an error; *n = orders. */
static int load_open(ex_state *es, const ex_market *only, ex_book *into, size_t *n) {
    const aitbc_host_api *api = es->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s = api->stmt(t, "SELECT order_id, owner, market, side, price, remaining, seq "
                                 "FROM exchange_orders WHERE is_open = 1 AND "
                                 "(CAST(?1 AS TEXT) IS NULL OR market = ?1) ORDER BY seq");
    int rc = s ? 0 : AITBC_EIO;
    if (s && only) api->bind_text(s, 1, only->symbol);
    *n = 0;
    while (rc == 0 && (rc = api->step(s)) == AITBC_ROW) {
        rc = 0;
        ex_market *m = ex_find_market(es, api->col_text(s, 2));
        if (!m) {
            api->log(es->ctx, AITBC_LOG_WARN, "open order %s is in unconfigured market %s",
                     api->col_text(s, 0), api->col_text(s, 2));
            continue;
        }
        ex_rest r;
        memset(&r, 0, sizeof r);
        snprintf(r.order_id, sizeof r.order_id, "%s", api->col_text(s, 0));
        snprintf(r.owner, sizeof r.owner, "%s", api->col_text(s, 1));
        r.price = api->col_int64(s, 4);
        r.remaining = api->col_int64(s, 5);
        r.seq = api->col_int64(s, 6);
        int side = api->col_int64(s, 3) == EX_BUY ? EX_BUY : EX_SELL;
        if (only) {
            rc = ex_book_insert(into, side, &r);
        } else {
            pthread_mutex_lock(&m->lock);
            rc = ex_book_insert(&m->book, side, &r);
            pthread_mutex_unlock(&m->lock);
        }
        ++*n;
    }
    if (s) api->stmt_done(s);
    api->txn_commit(t);
    return rc == AITBC_DONE ? 0 : rc;
}

int ex_books_rebuild(ex_state *es) {
    size_t n = 0;
    int rc = load_open(es, NULL, NULL, &n);
    if (rc == 0)
        es->api->log(es->ctx, AITBC_LOG_INFO, "order books rebuilt from %zu open orders", n);
    return rc;
}

/* After the writer's batch: if it failed, what it changed in the book never happened. */
static void batch_end(void *arg, int rc) {
    ex_market *m = arg;
    ex_state *es = m->es;
    ex_book fresh;
    memset(&fresh, 0, sizeof fresh);
    size_t n = 0;
    int lrc = rc != 0 ? load_open(es, m, &fresh, &n) : 0;
    pthread_mutex_lock(&m->lock);
    if (rc != 0 && lrc == 0) {
        ex_book_free(&m->book);
        m->book = fresh;
        m->sequence = m->batch_sequence;
        m->reserved = m->batch_reserved;
    }
    /* Trades of the batch are committed (or gone) now: a ticker kept meanwhile is stale. */
    if (m->batch_traded) m->trade_gen++;
    m->batch_traded = 0;
    m->in_batch = 0;
    pthread_mutex_unlock(&m->lock);
    if (rc != 0 && lrc != 0) {
        ex_book_free(&fresh);
        es->api->log(es->ctx, AITBC_LOG_ERROR,
                     "%s: a write batch failed and the book could not be reloaded (%d): it may "
                     "show orders that do not exist until a restart",
                     m->symbol, lrc);
    } else if (rc != 0) {
        es->api->log(es->ctx, AITBC_LOG_WARN, "%s: a write batch failed; book reloaded (%zu open)",
                     m->symbol, n);
    }
}

/* Several hosts on one database each keep a book in memory; the database is the truth. Every
 * book change bumps its market's row in exchange_books in the transaction that makes it, and a
 * host about to match (or to answer a snapshot) compares that row with its own sequence. Place
 * and cancel run on the writer, whose transaction holds the database-wide write lock from before
 * the check to after the commit: at most one host matches at a time, against a current book, so
 * no maker is filled twice. Only a shared database (aitbc_store_shared: PostgreSQL) pays the row:
 * a SQLite file has one host, whose book follows every change it commits (a failed batch reloads
 * it, batch_end), so there the row would always equal the sequence. */
int ex_book_stored(const ex_market *m, aitbc_txn *t, int64_t *out) {
    const aitbc_host_api *api = m->es->api;
    aitbc_stmt *s = api->stmt(t, "SELECT sequence FROM exchange_books WHERE market = ?1");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, m->symbol);
    int rc = api->step(s);
    *out = rc == AITBC_ROW ? api->col_int64(s, 0) : -1;
    api->stmt_done(s);
    return rc < 0 ? rc : 0;
}

int ex_book_sync(ex_market *m, aitbc_txn *t, int64_t *stored_out) {
    ex_state *es = m->es;
    const aitbc_host_api *api = es->api;
    if (stored_out) *stored_out = -1;
    if (!es->shared) return 0;
    int64_t stored = -1;
    int rc = ex_book_stored(m, t, &stored);
    if (stored_out && rc == 0) *stored_out = stored;
    if (rc == 0 && stored >= 0 && (uint64_t)stored != m->sequence) {
        ex_book fresh;
        memset(&fresh, 0, sizeof fresh);
        size_t n = 0;
        rc = load_open(es, m, &fresh, &n); /* nested: the same snapshot as the row */
        if (rc == 0) {
            ex_book_free(&m->book);
            m->book = fresh;
            api->log(es->ctx, AITBC_LOG_DEBUG, "%s: book changed elsewhere, reloaded (%zu open)",
                     m->symbol, n);
            m->sequence = (uint64_t)stored;
        } else {
            ex_book_free(&fresh);
        }
    }
    return rc;
}

static int store_sequence(ex_state *es, aitbc_txn *t, const ex_market *m, uint64_t sequence) {
    const aitbc_host_api *api = es->api;
    aitbc_stmt *s = api->stmt(t, "INSERT INTO exchange_books(market, sequence) VALUES(?1, ?2) "
                                 "ON CONFLICT(market) DO UPDATE SET sequence = excluded.sequence");
    if (!s) return AITBC_EIO;
    api->bind_text(s, 1, m->symbol);
    api->bind_int64(s, 2, (int64_t)sequence);
    int rc = api->step(s) < 0 ? AITBC_EIO : 0;
    api->stmt_done(s);
    return rc;
}

int ex_book_bump(ex_market *m, aitbc_txn *t, size_t changed) {
    return changed && m->es->shared ? store_sequence(m->es, t, m, m->sequence + changed) : 0;
}

size_t ex_levels_distinct(const int *sides, const int64_t *prices, size_t n) {
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = sides[j] == sides[i] && prices[j] == prices[i];
        changed += !dup;
    }
    return changed;
}

int ex_market_batch_join(ex_market *m) {
    const aitbc_host_api *api = m->es->api;
    if (m->in_batch || !AITBC_HOST_HAS(api, txn_after)) return 0;
    int rc = api->txn_after(batch_end, m);
    if (rc == AITBC_EINVAL) return 0; /* not on the writer: the caller's commit is final */
    if (rc != 0) return rc;
    m->in_batch = 1;
    m->batch_sequence = m->sequence;
    m->batch_reserved = m->reserved;
    return 0;
}

/* A client that holds a snapshot drops diffs whose sequence is not newer, so the sequence must
 * never go back, also across a restart. Writing it on every change would cost a write per order;
 * instead a ceiling is stored a block ahead, and a restarted node starts at it (a jump forward,
 * which clients see as a gap and answer with a fresh snapshot). */
#define EX_SEQ_BLOCK 1000000

static int seq_read(ex_state *es, const ex_market *m, uint64_t *out) {
    const aitbc_host_api *api = es->api;
    char key[64];
    snprintf(key, sizeof key, "sequence:%s", m->symbol);
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s = api->stmt(t, "SELECT value FROM exchange_meta WHERE key = ?1");
    int rc = s ? 0 : AITBC_EIO;
    *out = 0;
    if (s) {
        api->bind_text(s, 1, key);
        if (api->step(s) == AITBC_ROW) *out = strtoull(api->col_text(s, 0), NULL, 10);
        api->stmt_done(s);
    }
    api->txn_commit(t);
    return rc;
}

static int seq_reserve(ex_state *es, ex_market *m, uint64_t from) {
    const aitbc_host_api *api = es->api;
    char key[64], value[32];
    snprintf(key, sizeof key, "sequence:%s", m->symbol);
    snprintf(value, sizeof value, "%llu", (unsigned long long)(from + EX_SEQ_BLOCK));
    aitbc_txn *t = api->txn_begin(AITBC_TXN_WRITE);
    if (!t) return AITBC_EBUSY;
    aitbc_stmt *s = api->stmt(t, "INSERT INTO exchange_meta(key, value) VALUES(?1, ?2) "
                                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    int rc = s ? 0 : AITBC_EIO;
    if (s) {
        api->bind_text(s, 1, key);
        api->bind_text(s, 2, value);
        rc = api->step(s) < 0 ? AITBC_EIO : 0;
        api->stmt_done(s);
    }
    if (rc == 0) {
        rc = api->txn_commit(t);
    } else {
        api->txn_rollback(t);
    }
    if (rc == 0) m->reserved = from + EX_SEQ_BLOCK;
    return rc;
}

int ex_sequences_load(ex_state *es) {
    for (size_t i = 0; i < es->nmarkets; i++) {
        ex_market *m = &es->markets[i];
        uint64_t start = 0;
        int rc = seq_read(es, m, &start);
        if (rc == 0) rc = seq_reserve(es, m, start);
        if (rc != 0) return rc;
        m->sequence = start;
        if (!es->shared) continue;
        /* Other hosts jump to it too at their next change (ex_book_sync): never backwards. */
        aitbc_txn *t = es->api->txn_begin(AITBC_TXN_WRITE);
        rc = t ? store_sequence(es, t, m, start) : AITBC_EBUSY;
        if (rc == 0)
            rc = es->api->txn_commit(t);
        else if (t)
            es->api->txn_rollback(t);
        if (rc != 0) return rc;
    }
    return 0;
}

static cJSON *level(const ex_market *m, int64_t price, int64_t qty) {
    char ps[AITBC_MONEY_MAX], qs[AITBC_MONEY_MAX];
    aitbc_money_format(price, m->p.quote_dec, ps);
    aitbc_money_format(qty, m->p.base_dec, qs);
    cJSON *pair = cJSON_CreateArray();
    cJSON_AddItemToArray(pair, cJSON_CreateString(ps));
    cJSON_AddItemToArray(pair, cJSON_CreateString(qs));
    return pair;
}

void ex_publish_levels(ex_state *es, ex_market *m, const int *sides, const int64_t *prices,
                       size_t n) {
    if (n == 0) return;
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "market", m->symbol);
    cJSON *arr[2];
    arr[EX_BUY] = cJSON_CreateArray();
    arr[EX_SELL] = cJSON_CreateArray();
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        int dup = 0; /* a level touched twice is reported once, with its final quantity */
        for (size_t j = 0; j < i && !dup; j++)
            dup = sides[j] == sides[i] && prices[j] == prices[i];
        if (dup) continue;
        int64_t q = ex_level_qty(&m->book, sides[i], prices[i]);
        cJSON_AddItemToArray(arr[sides[i]], level(m, prices[i], q));
        changed++;
    }
    aitbc_json_add_i64(ev, "first_sequence", (int64_t)m->sequence + 1);
    m->sequence += changed;
    if (m->sequence >= m->reserved && seq_reserve(es, m, m->sequence) != 0)
        es->api->log(es->ctx, AITBC_LOG_WARN,
                     "%s: storing the sequence ceiling failed; a "
                     "restart now could repeat sequence numbers",
                     m->symbol);
    aitbc_json_add_i64(ev, "last_sequence", (int64_t)m->sequence);
    cJSON_AddItemToObject(ev, "bids", arr[EX_BUY]);
    cJSON_AddItemToObject(ev, "asks", arr[EX_SELL]);
    /* The WebSocket bridge matches topics exactly: one event for all markets, one per market.
     * Both are handed over (the host keeps them until the commit): one copy, not two. */
    cJSON *copy = cJSON_Duplicate(ev, 1);
    if (copy) aitbc_publish_take(es->api, es->ctx, "orderbook", copy);
    aitbc_publish_take(es->api, es->ctx, m->topic, ev);
}

/* depth: 1..500, default 50. */
static int parse_depth(const char *text, int *out) {
    *out = 50;
    if (!text) return 0;
    size_t n = strlen(text);
    if (n == 0 || n > 3 || strspn(text, "0123456789") != n || (n > 1 && text[0] == '0')) return -1;
    *out = atoi(text);
    return *out >= 1 && *out <= 500 ? 0 : -1;
}

/* Aggregated levels of one side, best first, at most depth. */
static cJSON *side_levels(const ex_market *m, int side, int depth) {
    const ex_side *s = &m->book.side[side];
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < s->n && i < (size_t)depth; i++) {
        const ex_level *l = ex_best_level(s, i);
        cJSON_AddItemToArray(arr, level(m, l->price, l->total));
    }
    return arr;
}

void ex_h_orderbook(aitbc_request *req, void *user) {
    ex_state *es = user;
    const aitbc_host_api *api = es->api;
    const char *sym = api->req_query(req, "market");
    ex_market *m = sym ? ex_find_market(es, sym) : es->nmarkets == 1 ? &es->markets[0] : NULL;
    if (!m) {
        api->respond_error(req, 400, "invalid_argument", "market", "unknown market");
        return;
    }
    int depth;
    if (parse_depth(api->req_query(req, "depth"), &depth) != 0) {
        api->respond_error(req, 400, "invalid_argument", "depth", "depth must be 1..500");
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "market", m->symbol);
    pthread_mutex_lock(&m->lock);
    /* Another host's orders: catch up first. Not while the writer has changes of its own in an
     * open batch (then this book is ahead of the database, and current once it commits). A
     * failed reload leaves the book as it was: a stale snapshot, never a wrong match. */
    aitbc_txn *t = m->in_batch || !es->shared ? NULL : api->txn_begin(AITBC_TXN_READ);
    if (t) {
        ex_book_sync(m, t, NULL);
        api->txn_commit(t);
    }
    aitbc_json_add_i64(out, "sequence", (int64_t)m->sequence);
    cJSON_AddItemToObject(out, "bids", side_levels(m, EX_BUY, depth));
    cJSON_AddItemToObject(out, "asks", side_levels(m, EX_SELL, depth));
    pthread_mutex_unlock(&m->lock);
    api->respond_json(req, 200, out);
}
