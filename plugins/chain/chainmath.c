/* Pure chain arithmetic: hashes, Merkle roots, signatures, state roots and the replay book.
 * Nothing here touches the database, so the ledger, the verifier and unit tests agree on it. */
#include "chainmath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <aitbc/errors.h>
#include <aitbc/json.h>
#include <aitbc/money.h>
#include <aitbc/util.h>

static const char *const k_types[] = {
    "MINT",          "TRANSFER",        "ESCROW_LOCK", "ESCROW_RELEASE",
    "ESCROW_REFUND", "EXCHANGE_SETTLE", "FEE",         NULL};

int chain_type_known(const char *type) {
    for (size_t i = 0; type && k_types[i]; i++)
        if (strcmp(type, k_types[i]) == 0) return 1;
    return 0;
}

int chain_type_allowed(const char *op, const char *type) {
    if (!op || !chain_type_known(type)) return 0;
    if (strcmp(op, CHAIN_OP_MINT) == 0) return strcmp(type, "MINT") == 0;
    if (strcmp(op, CHAIN_OP_LOCK) == 0) return strcmp(type, "ESCROW_LOCK") == 0;
    if (strcmp(op, CHAIN_OP_UNLOCK) == 0) return strcmp(type, "ESCROW_REFUND") == 0;
    if (strcmp(op, CHAIN_OP_TRANSFER) == 0 || strcmp(op, CHAIN_OP_SETTLE) == 0)
        return strcmp(type, "TRANSFER") == 0 || strcmp(type, "FEE") == 0 ||
               strcmp(type, "EXCHANGE_SETTLE") == 0 || strcmp(type, "ESCROW_RELEASE") == 0;
    return 0;
}

/* Debit one field, then credit another; the two may be the same account (lock/unlock), so the
 * credit is computed after the debit and the debit is undone if the credit would overflow. */
static int debit_credit(int64_t amount, int64_t *src, int64_t *dst) {
    if (src) {
        if (*src < amount) return AITBC_EFUNDS;
        *src -= amount;
    }
    int64_t sum;
    if (aitbc_add_i64(*dst, amount, &sum) != 0) {
        if (src) *src += amount;
        return AITBC_EOVERFLOW;
    }
    *dst = sum;
    return 0;
}

int chain_op_apply(const char *op, int64_t amount, chain_bal *from, chain_bal *to) {
    if (!op || amount <= 0) return AITBC_EINVAL;
    if (strcmp(op, CHAIN_OP_MINT) == 0)
        return to ? debit_credit(amount, NULL, &to->available) : AITBC_EINVAL;
    if (!from) return AITBC_EINVAL;
    if (strcmp(op, CHAIN_OP_LOCK) == 0)
        return debit_credit(amount, &from->available, &from->locked);
    if (strcmp(op, CHAIN_OP_UNLOCK) == 0)
        return debit_credit(amount, &from->locked, &from->available);
    if (!to) return AITBC_EINVAL;
    if (strcmp(op, CHAIN_OP_TRANSFER) == 0)
        return debit_credit(amount, &from->available, &to->available);
    if (strcmp(op, CHAIN_OP_SETTLE) == 0)
        return debit_credit(amount, &from->locked, &to->available);
    return AITBC_EINVAL;
}

static void add_i64_str(cJSON *o, const char *key, int64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    cJSON_AddStringToObject(o, key, buf);
}

/* The canonical text of a transaction, written directly: its members in JCS order (they sort
 * the same by UTF-16 units as by ASCII). A bounded appender into a caller's buffer. */
typedef struct tx_text {
    char *p, *end;
} tx_text;

static int plain(const char *s) { /* no byte that JCS escapes */
    for (const unsigned char *u = (const unsigned char *)s; *u; u++)
        if (*u < 0x20 || *u == '"' || *u == '\\') return 0;
    return 1;
}

static void put(tx_text *t, const char *s, size_t n) {
    if (n > (size_t)(t->end - t->p)) n = (size_t)(t->end - t->p);
    memcpy(t->p, s, n);
    t->p += n;
}

static void put_i64(tx_text *t, int64_t v) {
    char digits[24], *d = digits + sizeof digits;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--d = '-';
    put(t, d, (size_t)(digits + sizeof digits - d));
}

static void put_separator(tx_text *t) { /* before a member name: a comma unless it is the first */
    if (t->p[-1] == '{')
        put(t, "\"", 1);
    else
        put(t, ",\"", 2);
}

static void put_member(tx_text *t, const char *name, const char *str) {
    put_separator(t);
    put(t, name, strlen(name));
    put(t, "\":\"", 3);
    put(t, str, strlen(str));
    put(t, "\"", 1);
}

static void put_number_member(tx_text *t, const char *name, int64_t v, int quoted) {
    put_separator(t);
    put(t, name, strlen(name));
    put(t, quoted ? "\":\"" : "\":", quoted ? 3 : 2);
    put_i64(t, v);
    if (quoted) put(t, "\"", 1);
}

/* chain_tx_hash without cJSON for what every real transaction is: strings needing no escape and
 * seq/timestamp exact as doubles. 1 and the hash, or 0 when the general path must do it. */
static int tx_hash_direct(const chain_tx *tx, char out[CHAIN_HASH_HEX]) {
    const int64_t exact = (int64_t)1 << 53; /* what the canonical writer prints as an integer */
    if (tx->seq <= -exact || tx->seq >= exact || tx->ts_ms <= -exact || tx->ts_ms >= exact ||
        !plain(tx->asset) || !plain(tx->from) || !plain(tx->op) || !plain(tx->ref) ||
        !plain(tx->to) || !plain(tx->type))
        return 0;
    char text[1024]; /* the fields at their longest need about 600 */
    tx_text t = {text, text + sizeof text};
    put(&t, "{", 1);
    put_number_member(&t, "amount", tx->amount, 1);
    put_member(&t, "asset", tx->asset);
    put_number_member(&t, "fee", tx->fee, 1);
    if (tx->from[0]) put_member(&t, "from", tx->from);
    put_member(&t, "op", tx->op);
    put_member(&t, "ref", tx->ref);
    put_number_member(&t, "seq", tx->seq, 0);
    put_number_member(&t, "timestamp", tx->ts_ms, 0);
    if (tx->to[0]) put_member(&t, "to", tx->to);
    put_member(&t, "type", tx->type);
    put(&t, "}", 1);
    if (t.p == t.end) return 0; /* cannot happen with the field sizes; never hash a cut text */
    unsigned char digest[32];
    crypto_hash_sha256(digest, (const unsigned char *)text, (unsigned long long)(t.p - text));
    aitbc_hex_encode(digest, sizeof digest, out);
    return 1;
}

int chain_tx_hash(const chain_tx *tx, char out[CHAIN_HASH_HEX]) {
    if (tx_hash_direct(tx, out)) return 0; /* a third of the cost of a ledger movement otherwise */
    return chain_tx_hash_general(tx, out);
}

int chain_tx_hash_general(const chain_tx *tx, char out[CHAIN_HASH_HEX]) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return AITBC_ENOMEM;
    /* Amounts as strings of base units: exact beyond 2^53, independent of asset decimals. */
    add_i64_str(o, "amount", tx->amount);
    cJSON_AddStringToObject(o, "asset", tx->asset);
    add_i64_str(o, "fee", tx->fee);
    if (tx->from[0]) cJSON_AddStringToObject(o, "from", tx->from);
    cJSON_AddStringToObject(o, "op", tx->op);
    cJSON_AddStringToObject(o, "ref", tx->ref);
    cJSON_AddNumberToObject(o, "seq", (double)tx->seq);
    cJSON_AddNumberToObject(o, "timestamp", (double)tx->ts_ms);
    if (tx->to[0]) cJSON_AddStringToObject(o, "to", tx->to);
    cJSON_AddStringToObject(o, "type", tx->type);
    int rc = aitbc_json_sha256_hex(o, out);
    cJSON_Delete(o);
    return rc;
}

void chain_merkle_root(unsigned char (*leaves)[32], size_t n, char out[CHAIN_HASH_HEX]) {
    unsigned char h[32];
    if (n == 0) {
        crypto_hash_sha256(h, (const unsigned char *)"", 0);
        aitbc_hex_encode(h, 32, out);
        return;
    }
    unsigned char buf[65];
    for (size_t i = 0; i < n; i++) {
        buf[0] = 0x00;
        memcpy(buf + 1, leaves[i], 32);
        crypto_hash_sha256(leaves[i], buf, 33);
    }
    while (n > 1) {
        size_t m = 0;
        for (size_t i = 0; i < n; i += 2) {
            if (i + 1 == n) {
                memmove(leaves[m++], leaves[i], 32); /* unpaired: promoted unchanged */
                break;
            }
            buf[0] = 0x01;
            memcpy(buf + 1, leaves[i], 32);
            memcpy(buf + 33, leaves[i + 1], 32);
            crypto_hash_sha256(leaves[m++], buf, 65);
        }
        n = m;
    }
    aitbc_hex_encode(leaves[0], 32, out);
}

int chain_block_hash(const chain_block *b, char out[CHAIN_HASH_HEX]) {
    char ts[AITBC_TIME_MAX];
    aitbc_time_format(b->ts_ms, ts);
    cJSON *o = cJSON_CreateObject();
    if (!o) return AITBC_ENOMEM;
    cJSON_AddNumberToObject(o, "height", (double)b->height);
    cJSON_AddStringToObject(o, "merkle_root", b->merkle_root);
    cJSON_AddStringToObject(o, "parent_hash", b->parent_hash);
    cJSON_AddStringToObject(o, "proposer", b->proposer);
    cJSON_AddStringToObject(o, "state_root", b->state_root);
    cJSON_AddStringToObject(o, "timestamp", ts);
    cJSON_AddNumberToObject(o, "tx_count", (double)b->tx_count);
    int rc = aitbc_json_sha256_hex(o, out);
    cJSON_Delete(o);
    return rc;
}

static size_t block_msg(const chain_block *b, char msg[96]) {
    return (size_t)snprintf(msg, 96, "aitbc-block-v1\n%s", b->hash);
}

void chain_block_sign(chain_block *b, const unsigned char sk[64]) {
    char msg[96];
    unsigned char sig[crypto_sign_BYTES];
    size_t len = block_msg(b, msg);
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, len, sk);
    size_t n = aitbc_b64url_encode(sig, sizeof sig, b->signature);
    b->signature[n] = '\0';
}

int chain_block_verify_sig(const chain_block *b, const unsigned char pk[32]) {
    char msg[96];
    unsigned char sig[crypto_sign_BYTES + 4];
    size_t len = block_msg(b, msg);
    if (strlen(b->signature) != 86) return AITBC_ESIG;
    if (aitbc_b64url_decode(b->signature, sig, sizeof sig) != crypto_sign_BYTES) return AITBC_ESIG;
    /* Re-encode and compare: the stored text must be the one canonical encoding of the bytes. */
    char again[CHAIN_SIG_MAX];
    size_t n = aitbc_b64url_encode(sig, crypto_sign_BYTES, again);
    again[n] = '\0';
    if (strcmp(again, b->signature) != 0) return AITBC_ESIG;
    if (crypto_sign_verify_detached(sig, (const unsigned char *)msg, len, pk) != 0)
        return AITBC_ESIG;
    return 0;
}

void chain_sr_init(chain_sr *sr) {
    crypto_hash_sha256_init(&sr->st);
}

void chain_sr_add(chain_sr *sr, const char *address, const char *asset, int64_t available,
                  int64_t locked) {
    char line[160];
    int n = snprintf(line, sizeof line, "%s %s %lld %lld\n", address, asset, (long long)available,
                     (long long)locked);
    if (n > 0) crypto_hash_sha256_update(&sr->st, (const unsigned char *)line, (size_t)n);
}

void chain_sr_final(chain_sr *sr, char out[CHAIN_HASH_HEX]) {
    unsigned char h[32];
    crypto_hash_sha256_final(&sr->st, h);
    aitbc_hex_encode(h, 32, out);
}

/* FNV-1a over address and asset: the book is an open-addressing table with linear probing. */
static uint64_t book_hash(const char *address, const char *asset) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = address; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *p = asset; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static int book_grow(chain_book *b) {
    size_t ncap = b->cap ? b->cap * 2 : 64;
    chain_book_entry *ns = calloc(ncap, sizeof *ns);
    if (!ns) return AITBC_ENOMEM;
    for (size_t i = 0; i < b->cap; i++) {
        if (!b->slots[i].used) continue;
        size_t j = (size_t)book_hash(b->slots[i].address, b->slots[i].asset) & (ncap - 1);
        while (ns[j].used)
            j = (j + 1) & (ncap - 1);
        ns[j] = b->slots[i];
    }
    free(b->slots);
    b->slots = ns;
    b->cap = ncap;
    return 0;
}

chain_book_entry *chain_book_get(chain_book *b, const char *address, const char *asset,
                                 int create) {
    if (strlen(address) >= sizeof b->slots[0].address || strlen(asset) >= CHAIN_SYMBOL_MAX)
        return NULL;
    if (create && (b->count + 1) * 2 > b->cap && book_grow(b) != 0) return NULL;
    if (b->cap == 0) return NULL;
    size_t j = (size_t)book_hash(address, asset) & (b->cap - 1);
    while (b->slots[j].used) {
        if (strcmp(b->slots[j].address, address) == 0 && strcmp(b->slots[j].asset, asset) == 0)
            return &b->slots[j];
        j = (j + 1) & (b->cap - 1);
    }
    if (!create) return NULL;
    chain_book_entry *e = &b->slots[j];
    memset(e, 0, sizeof *e);
    strcpy(e->address, address);
    strcpy(e->asset, asset);
    e->used = 1;
    b->count++;
    return e;
}

int chain_book_apply(chain_book *b, const chain_tx *tx) {
    int mint = strcmp(tx->op, CHAIN_OP_MINT) == 0;
    int self = strcmp(tx->op, CHAIN_OP_LOCK) == 0 || strcmp(tx->op, CHAIN_OP_UNLOCK) == 0;
    /* Make room for both entries first: a second insert may not move the first. */
    if ((b->count + 2) * 2 > b->cap && book_grow(b) != 0) return AITBC_ENOMEM;
    chain_book_entry *from = NULL, *to = NULL;
    if (!mint && !(from = chain_book_get(b, tx->from, tx->asset, 1))) return AITBC_EINVAL;
    if (!self && !(to = chain_book_get(b, tx->to, tx->asset, 1))) return AITBC_EINVAL;
    return chain_op_apply(tx->op, tx->amount, from ? &from->bal : NULL, to ? &to->bal : &from->bal);
}

static int entry_cmp(const void *a, const void *b) {
    const chain_book_entry *x = *(const chain_book_entry *const *)a;
    const chain_book_entry *y = *(const chain_book_entry *const *)b;
    int c = strcmp(x->address, y->address);
    return c ? c : strcmp(x->asset, y->asset);
}

int chain_book_state_root(const chain_book *b, char out[CHAIN_HASH_HEX]) {
    const chain_book_entry **v = malloc((b->count ? b->count : 1) * sizeof *v);
    if (!v) return AITBC_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < b->cap; i++)
        if (b->slots[i].used && (b->slots[i].bal.available || b->slots[i].bal.locked))
            v[n++] = &b->slots[i];
    qsort(v, n, sizeof *v, entry_cmp);
    chain_sr sr;
    chain_sr_init(&sr);
    for (size_t i = 0; i < n; i++)
        chain_sr_add(&sr, v[i]->address, v[i]->asset, v[i]->bal.available, v[i]->bal.locked);
    chain_sr_final(&sr, out);
    free(v);
    return 0;
}

void chain_book_free(chain_book *b) {
    free(b->slots);
    memset(b, 0, sizeof *b);
}

int chain_hex32(const char *hex, unsigned char out[32]) {
    if (!hex || strlen(hex) != 64) return AITBC_EINVAL;
    for (const char *p = hex; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return AITBC_EINVAL;
    return aitbc_hex_decode(hex, out, 32);
}
