/* chain-query@1: read-only blocks, transactions and addresses as JSON, for the explorer (and
 * anyone else who reads the chain). Keyset pages, newest first; each call is one read
 * transaction, so a page is a consistent snapshot. */
#include <stdint.h>
#include <string.h>
#include "chain.h"
#include "txjson.h"

#define TX_SELECT "SELECT " CHAIN_TX_COLS ", seq FROM " CHAIN_TX_FROM

typedef struct page {
    int limit;
    int64_t before; /* rows with key < before */
    char tag[AITBC_CURSOR_TAG_LEN + 1];
} page;

/* Cursor for a listing and its filter: 0, AITBC_EINVAL (malformed) or AITBC_ECONFLICT. */
static int page_start(page *p, const char *listing, const char *filter, int limit,
                      const char *cursor) {
    const char *filters[] = {filter, NULL};
    aitbc_cursor_tag(listing, filters, 2, p->tag);
    p->limit = limit < 1 ? 1 : limit > AITBC_LIMIT_MAX ? AITBC_LIMIT_MAX : limit;
    p->before = INT64_MAX;
    if (!cursor || !cursor[0]) return 0;
    return aitbc_cursor_decode(cursor, p->tag, &p->before, NULL);
}

static int decimals_cb(void *user, const char *asset) {
    const chain_asset *a = chain_find_asset(user, asset);
    return a ? a->decimals : AITBC_ENOTFOUND;
}

static cJSON *block_row(aitbc_stmt *s, void *user) {
    return chain_block_json(((chain_state *)user)->api, s);
}

static cJSON *tx_row(aitbc_stmt *s, void *user) {
    chain_state *cs = user;
    return chain_tx_json(cs->api, s, decimals_cb, cs);
}

/* Ends the read transaction; 0 with *out = body, or AITBC_EIO when the body could not be made. */
static int finish(chain_state *cs, aitbc_txn *t, cJSON *body, cJSON **out) {
    if (t) cs->api->txn_commit(t);
    if (!body) return AITBC_EIO;
    *out = body;
    return 0;
}

static int q_blocks(void *self, int limit, const char *cursor, cJSON **out) {
    chain_state *cs = self;
    const aitbc_host_api *api = cs->api;
    page p;
    int rc = page_start(&p, "blocks", NULL, limit, cursor);
    if (rc != 0) return rc;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = t ? api->stmt(t, "SELECT " CHAIN_BLOCK_COLS " FROM chain_blocks "
                                     "WHERE height < ?1 ORDER BY height DESC LIMIT ?2")
                      : NULL;
    cJSON *body = NULL;
    if (s) {
        api->bind_int64(s, 1, p.before);
        api->bind_int64(s, 2, p.limit + 1);
        body = aitbc_page_collect(api, s, p.limit, 0, p.tag, block_row, cs);
    }
    return finish(cs, t, body, out);
}

static cJSON *block_txs(chain_state *cs, aitbc_txn *t, int64_t height) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(
        t, TX_SELECT "WHERE seq >= (SELECT first_seq FROM chain_blocks WHERE height = ?1) AND "
                     "seq < (SELECT first_seq + tx_count FROM chain_blocks WHERE height = ?1) "
                     "ORDER BY seq");
    if (!s) return NULL;
    api->bind_int64(s, 1, height);
    cJSON *arr = cJSON_CreateArray();
    while (api->step(s) == AITBC_ROW)
        cJSON_AddItemToArray(arr, chain_tx_json(api, s, decimals_cb, cs));
    api->stmt_done(s);
    return arr;
}

static int q_block(void *self, int64_t height, const char *hash, cJSON **out) {
    chain_state *cs = self;
    const aitbc_host_api *api = cs->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s =
        !t     ? NULL
        : hash ? api->stmt(t, "SELECT " CHAIN_BLOCK_COLS " FROM chain_blocks WHERE hash = ?1")
               : api->stmt(t, "SELECT " CHAIN_BLOCK_COLS " FROM chain_blocks WHERE height = ?1");
    if (!s) return finish(cs, t, NULL, out);
    if (hash)
        api->bind_text(s, 1, hash);
    else
        api->bind_int64(s, 1, height);
    cJSON *blk = NULL;
    if (api->step(s) == AITBC_ROW) {
        blk = chain_block_json(api, s);
        height = api->col_int64(s, 0);
    }
    api->stmt_done(s);
    if (!blk) {
        api->txn_commit(t);
        return AITBC_ENOTFOUND;
    }
    cJSON *txs = block_txs(cs, t, height);
    if (txs) {
        cJSON_AddItemToObject(blk, "transactions", txs);
    } else {
        cJSON_Delete(blk);
        blk = NULL;
    }
    return finish(cs, t, blk, out);
}

static int q_transactions(void *self, const char *type, int limit, const char *cursor,
                          cJSON **out) {
    chain_state *cs = self;
    const aitbc_host_api *api = cs->api;
    page p;
    int rc = page_start(&p, "transactions", type, limit, cursor);
    if (rc != 0) return rc;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s =
        !t     ? NULL
        : type ? api->stmt(t, TX_SELECT "WHERE type = ?3 AND seq < ?1 ORDER BY seq DESC LIMIT ?2")
               : api->stmt(t, TX_SELECT "WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2");
    cJSON *body = NULL;
    if (s) {
        api->bind_int64(s, 1, p.before);
        api->bind_int64(s, 2, p.limit + 1);
        if (type) api->bind_text(s, 3, type);
        body = aitbc_page_collect(api, s, p.limit, CHAIN_TX_NCOLS, p.tag, tx_row, cs);
    }
    return finish(cs, t, body, out);
}

static int q_transaction(void *self, const char *hash, cJSON **out) {
    chain_state *cs = self;
    const aitbc_host_api *api = cs->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    aitbc_stmt *s = t ? api->stmt(t, TX_SELECT "WHERE hash = ?1") : NULL;
    if (!s) return finish(cs, t, NULL, out);
    api->bind_text(s, 1, hash);
    int row = api->step(s);
    cJSON *tx = row == AITBC_ROW ? chain_tx_json(api, s, decimals_cb, cs) : NULL;
    api->stmt_done(s);
    if (row == AITBC_DONE) {
        api->txn_commit(t);
        return AITBC_ENOTFOUND;
    }
    return finish(cs, t, tx, out);
}

/* Newest-first transactions touching address, keyset below `before`; each side uses its index. */
static aitbc_stmt *address_txs_stmt(chain_state *cs, aitbc_txn *t, const char *address,
                                    int64_t before, int64_t limit) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(
        t, TX_SELECT "WHERE seq IN ("
                     "SELECT seq FROM (SELECT seq FROM chain_txs WHERE from_addr = ?3 AND seq < ?1 "
                     "ORDER BY seq DESC LIMIT ?2) AS sent UNION "
                     "SELECT seq FROM (SELECT seq FROM chain_txs WHERE to_addr = ?3 AND seq < ?1 "
                     "ORDER BY seq DESC LIMIT ?2) AS received) ORDER BY seq DESC LIMIT ?2");
    if (s) {
        api->bind_int64(s, 1, before);
        api->bind_int64(s, 2, limit);
        api->bind_text(s, 3, address);
    }
    return s;
}

/* created_ms of the account, -1 if unknown, -2 on a database error. */
static int64_t account_created(chain_state *cs, aitbc_txn *t, const char *address) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT created_ms FROM chain_accounts WHERE address = ?1");
    if (!s) return -2;
    api->bind_text(s, 1, address);
    int64_t v = api->step(s) == AITBC_ROW ? api->col_int64(s, 0) : -1;
    api->stmt_done(s);
    return v;
}

static int add_balances(chain_state *cs, aitbc_txn *t, const char *address, cJSON *out) {
    const aitbc_host_api *api = cs->api;
    aitbc_stmt *s = api->stmt(t, "SELECT a.symbol, a.decimals, COALESCE(b.available, 0), "
                                 "COALESCE(b.locked, 0) FROM chain_assets a LEFT JOIN "
                                 "chain_balances b ON b.asset = a.symbol AND b.address = ?1 "
                                 "ORDER BY a.symbol");
    if (!s) return -1;
    api->bind_text(s, 1, address);
    cJSON *bal = cJSON_AddObjectToObject(out, "balances");
    cJSON *locked = cJSON_AddObjectToObject(out, "locked");
    while (api->step(s) == AITBC_ROW) {
        const char *sym = api->col_text(s, 0);
        int dec = (int)api->col_int64(s, 1);
        aitbc_json_add_money(bal, sym, api->col_int64(s, 2), dec);
        aitbc_json_add_money(locked, sym, api->col_int64(s, 3), dec);
    }
    api->stmt_done(s);
    return 0;
}

static int add_activity(chain_state *cs, aitbc_txn *t, const char *address, cJSON *out,
                        int64_t created) {
    const aitbc_host_api *api = cs->api;
    /* An unlock has from == to: count it once. */
    aitbc_stmt *s =
        api->stmt(t, "SELECT (SELECT COUNT(*) FROM chain_txs WHERE from_addr = ?1) + "
                     "(SELECT COUNT(*) FROM chain_txs WHERE to_addr = ?1 AND "
                     "(from_addr IS NULL OR from_addr != ?1)), "
                     "(SELECT COALESCE(MAX(ts), -1) FROM ("
                     "SELECT MAX(ts_ms) AS ts FROM chain_txs WHERE from_addr = ?1 UNION ALL "
                     "SELECT MAX(ts_ms) FROM chain_txs WHERE to_addr = ?1) AS sides)");
    if (s) api->bind_text(s, 1, address);
    if (!s || api->step(s) != AITBC_ROW) {
        if (s) api->stmt_done(s);
        return -1;
    }
    int64_t count = api->col_int64(s, 0), last = api->col_int64(s, 1);
    api->stmt_done(s);
    char ts[AITBC_TIME_MAX];
    aitbc_json_add_i64(out, "tx_count", count);
    aitbc_time_format(created, ts);
    cJSON_AddStringToObject(out, "first_seen", ts);
    if (last >= 0) {
        aitbc_time_format(last, ts);
        cJSON_AddStringToObject(out, "last_active", ts);
    } else {
        cJSON_AddNullToObject(out, "last_active");
    }
    return 0;
}

static int q_address(void *self, const char *address, int recent, cJSON **out) {
    chain_state *cs = self;
    const aitbc_host_api *api = cs->api;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    int64_t created = t ? account_created(cs, t, address) : -2;
    if (created == -1) {
        api->txn_commit(t);
        return AITBC_ENOTFOUND;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "address", address);
    int ok = created >= 0 && add_balances(cs, t, address, body) == 0 &&
             add_activity(cs, t, address, body, created) == 0;
    aitbc_stmt *s = ok ? address_txs_stmt(cs, t, address, INT64_MAX, recent) : NULL;
    if (s) {
        cJSON *list = cJSON_AddArrayToObject(body, "recent_transactions");
        while (api->step(s) == AITBC_ROW)
            cJSON_AddItemToArray(list, chain_tx_json(api, s, decimals_cb, cs));
        api->stmt_done(s);
    } else {
        cJSON_Delete(body);
        body = NULL;
    }
    return finish(cs, t, body, out);
}

static int q_address_txs(void *self, const char *address, int limit, const char *cursor,
                         cJSON **out) {
    chain_state *cs = self;
    const aitbc_host_api *api = cs->api;
    page p;
    int rc = page_start(&p, "address_transactions", address, limit, cursor);
    if (rc != 0) return rc;
    aitbc_txn *t = api->txn_begin(AITBC_TXN_READ);
    int64_t created = t ? account_created(cs, t, address) : -2;
    if (created == -1) {
        api->txn_commit(t);
        return AITBC_ENOTFOUND;
    }
    aitbc_stmt *s = created >= 0 ? address_txs_stmt(cs, t, address, p.before, p.limit + 1) : NULL;
    cJSON *body = s ? aitbc_page_collect(api, s, p.limit, CHAIN_TX_NCOLS, p.tag, tx_row, cs) : NULL;
    return finish(cs, t, body, out);
}

void chain_query_init(chain_state *cs) {
    cs->query = (aitbc_chain_query_v1){
        .size = sizeof(aitbc_chain_query_v1),
        .self = cs,
        .block = q_block,
        .blocks = q_blocks,
        .transaction = q_transaction,
        .transactions = q_transactions,
        .address = q_address,
        .address_transactions = q_address_txs,
    };
}
