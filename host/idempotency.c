/* Idempotency-Key for the routes that ask for it (API.md): the first answer to (account, route,
 * key) is stored and replayed; a different body under the same key is a conflict. The claim row is
 * written before the handler runs, so a concurrent duplicate sees "in progress" instead of running
 * the handler twice. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define IDEM_KEY_MAX 255
/* A claim older than this whose request never finished (crash, lost thread) may be taken over. */
#define IDEM_STALE_CLAIM_MS (5 * 60 * 1000)

enum { CLAIM_RUNNING = 0, CLAIM_DONE = 1 };

struct idem_record {
    char *account;
    char *route;
    char *key;
};

static const aitbc_migration idem_migrations[] = {
    {1, "CREATE TABLE host_idempotency ("
        " account TEXT NOT NULL, route TEXT NOT NULL, idem_key TEXT NOT NULL,"
        " body_sha256 TEXT NOT NULL, state INTEGER NOT NULL, status INTEGER NOT NULL DEFAULT 0,"
        " response BLOB, created_ms INTEGER NOT NULL,"
        " PRIMARY KEY (account, route, idem_key));"
        "CREATE INDEX host_idempotency_created ON host_idempotency(created_ms);"},
};

int idem_init(void) {
    return store_migrate("host", idem_migrations, sizeof idem_migrations / sizeof *idem_migrations);
}

static void record_free(idem_record *rec) {
    if (!rec) return;
    free(rec->account);
    free(rec->route);
    free(rec->key);
    free(rec);
}

static idem_record *record_new(const char *account, const char *route, const char *key) {
    idem_record *rec = calloc(1, sizeof *rec);
    if (!rec) return NULL;
    rec->account = strdup(account);
    rec->route = strdup(route);
    rec->key = strdup(key);
    if (!rec->account || !rec->route || !rec->key) {
        record_free(rec);
        return NULL;
    }
    return rec;
}

/* Hash of the body in canonical form, so key order and whitespace do not make a "different" body.
 */
static int body_digest(const cJSON *body, char out[65]) {
    if (body) return aitbc_json_sha256_hex(body, out);
    cJSON *empty = cJSON_CreateObject();
    if (!empty) return AITBC_ENOMEM;
    int rc = aitbc_json_sha256_hex(empty, out);
    cJSON_Delete(empty);
    return rc;
}

static aitbc_stmt *keyed_stmt(aitbc_txn *txn, const char *sql, const char *account,
                              const char *route, const char *key) {
    aitbc_stmt *s = store_stmt(txn, sql);
    if (!s) return NULL;
    store_bind_text(s, 1, account);
    store_bind_text(s, 2, route);
    store_bind_text(s, 3, key);
    return s;
}

/* Inside the write transaction: decide what the request gets. */
static idem_result claim(aitbc_txn *txn, const char *account, const char *route, const char *key,
                         const char *digest, unsigned *status, char **body_out) {
    aitbc_stmt *s = keyed_stmt(txn,
                               "SELECT body_sha256, state, status, response, created_ms "
                               "FROM host_idempotency WHERE account=? AND route=? AND idem_key=?",
                               account, route, key);
    if (!s) return IDEM_ERROR;
    int rc = store_step(s);
    if (rc < 0) {
        store_stmt_done(s);
        return IDEM_ERROR;
    }
    if (rc == AITBC_ROW) {
        const char *stored_digest = store_col_text(s, 0);
        int same_body = stored_digest && strcmp(stored_digest, digest) == 0;
        int64_t state = store_col_int64(s, 1);
        int64_t created = store_col_int64(s, 4);
        idem_result res = IDEM_PROCEED;
        if (!same_body) {
            res = IDEM_MISMATCH;
        } else if (state == CLAIM_DONE) {
            size_t len = 0;
            const void *blob = store_col_blob(s, 3, &len);
            *body_out = malloc(len + 1);
            if (!*body_out) {
                res = IDEM_ERROR;
            } else {
                if (len) memcpy(*body_out, blob, len);
                (*body_out)[len] = '\0';
                *status = (unsigned)store_col_int64(s, 2);
                res = IDEM_REPLAY;
            }
        } else if (aitbc_now_ms() - created < IDEM_STALE_CLAIM_MS) {
            res = IDEM_BUSY;
        }
        store_stmt_done(s);
        if (res != IDEM_PROCEED) return res;
        /* A stale claim: the first request died; this one takes over. */
        s = keyed_stmt(txn,
                       "DELETE FROM host_idempotency WHERE account=? AND route=? AND idem_key=?",
                       account, route, key);
        if (!s) return IDEM_ERROR;
        rc = store_step(s);
        store_stmt_done(s);
        if (rc < 0) return IDEM_ERROR;
    } else {
        store_stmt_done(s);
    }
    s = keyed_stmt(txn,
                   "INSERT INTO host_idempotency (account, route, idem_key, body_sha256, state, "
                   "created_ms) VALUES (?, ?, ?, ?, 0, ?)",
                   account, route, key);
    if (!s) return IDEM_ERROR;
    store_bind_text(s, 4, digest);
    store_bind_int64(s, 5, aitbc_now_ms());
    rc = store_step(s);
    store_stmt_done(s);
    return rc < 0 ? IDEM_ERROR : IDEM_PROCEED;
}

idem_result idem_begin(const char *account, const char *route, const char *key, const cJSON *body,
                       idem_record **rec, unsigned *status, char **body_out) {
    *rec = NULL;
    *body_out = NULL;
    size_t key_len = strlen(key);
    /* Stored as text: PostgreSQL takes only UTF-8. */
    if (key_len == 0 || key_len > IDEM_KEY_MAX || !aitbc_utf8_valid(key, key_len))
        return IDEM_BAD_KEY;
    char digest[65];
    if (body_digest(body, digest) != 0) return IDEM_ERROR;
    aitbc_txn *txn = store_txn_begin(AITBC_TXN_WRITE);
    if (!txn) return IDEM_ERROR;
    idem_result res = claim(txn, account, route, key, digest, status, body_out);
    if (res == IDEM_ERROR) {
        store_txn_rollback(txn);
        return res;
    }
    if (store_txn_commit(txn) != 0) {
        free(*body_out);
        *body_out = NULL;
        return IDEM_ERROR;
    }
    if (res == IDEM_PROCEED) {
        *rec = record_new(account, route, key);
        if (!*rec) return IDEM_ERROR;
    }
    return res;
}

void idem_finish(idem_record *rec, unsigned status, const char *body, size_t len) {
    if (!rec) return;
    aitbc_txn *txn = store_txn_begin(AITBC_TXN_WRITE);
    if (txn) {
        /* 4xx (the request was refused) and 503 (nothing was done: retry) leave no record, so
         * the client may retry with the same key; success and 500 (maybe partly done) replay. */
        int keep = status < 400 || (status >= 500 && status != 503);
        aitbc_stmt *s;
        if (keep) {
            s = store_stmt(txn, "UPDATE host_idempotency SET state=1, status=?, response=? "
                                "WHERE account=? AND route=? AND idem_key=?");
            if (s) {
                store_bind_int64(s, 1, status);
                store_bind_blob(s, 2, body ? body : "", body ? len : 0);
                store_bind_text(s, 3, rec->account);
                store_bind_text(s, 4, rec->route);
                store_bind_text(s, 5, rec->key);
            }
        } else {
            s = keyed_stmt(
                txn, "DELETE FROM host_idempotency WHERE account=? AND route=? AND idem_key=?",
                rec->account, rec->route, rec->key);
        }
        int rc = s ? store_step(s) : AITBC_EIO;
        if (s) store_stmt_done(s);
        if (rc < 0 || store_txn_commit(txn) != 0) {
            if (rc < 0) store_txn_rollback(txn);
            hlog(NULL, AITBC_LOG_ERROR, "idempotency: could not record the answer for key %s",
                 rec->key);
        }
    }
    record_free(rec);
}

void idem_purge(int64_t max_age_ms) {
    aitbc_txn *txn = store_txn_begin(AITBC_TXN_WRITE);
    if (!txn) return;
    aitbc_stmt *s = store_stmt(txn, "DELETE FROM host_idempotency WHERE created_ms < ?");
    int rc = AITBC_EIO;
    if (s) {
        store_bind_int64(s, 1, aitbc_now_ms() - max_age_ms);
        rc = store_step(s);
        store_stmt_done(s);
    }
    if (rc < 0)
        store_txn_rollback(txn);
    else
        store_txn_commit(txn);
}
