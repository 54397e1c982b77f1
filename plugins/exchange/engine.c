/* The pure matching engine: price-time priority over sorted arrays, fills at the resting price,
 * self-trade prevention (the taker expires), post-only, IOC/FOK, market buys by quote amount, and
 * exact settlement arithmetic (128-bit intermediates, fees rounded up). */
#include <stdlib.h>
#include <string.h>
#include <aitbc/errors.h>
#include "engine.h"

enum { STOP_DONE, STOP_BOOK, STOP_SELF, STOP_BUDGET };

int ex_notional(int64_t price, int64_t qty, int64_t base_scale, int64_t *out) {
    if (price < 0 || qty < 0 || base_scale <= 0) return AITBC_EINVAL;
    __int128 prod = (__int128)price * qty;
    if (prod % base_scale != 0) return AITBC_EINVAL;
    prod /= base_scale;
    if (prod > INT64_MAX) return AITBC_EOVERFLOW;
    *out = (int64_t)prod;
    return 0;
}

int64_t ex_fee_up(int64_t amount, int bps) {
    if (amount <= 0 || bps <= 0) return 0;
    __int128 x = (__int128)amount * bps;
    return (int64_t)((x + 9999) / 10000);
}

int ex_grid_ok(int64_t tick, int64_t step, int64_t base_scale) {
    if (tick <= 0 || step <= 0 || base_scale <= 0) return 0;
    return ((__int128)tick * step) % base_scale == 0;
}

/* Level price a is better than price b on this side. */
static int better(int64_t a, int64_t b, int side) {
    return side == EX_BUY ? a > b : a < b;
}

void ex_book_free(ex_book *b) {
    for (int i = 0; i < 2; i++) {
        ex_side *s = &b->side[i];
        for (size_t j = 0; j < s->n; j++)
            free(s->lv[j].q);
        free(s->lv);
        s->lv = NULL;
        s->n = s->cap = 0;
    }
}

/* Best-first index of the first level whose price is not better than price. */
static size_t level_pos(const ex_side *s, int64_t price, int side) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (better(ex_best_level(s, mid)->price, price, side))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The level at price, or NULL. */
static ex_level *find_level(const ex_side *s, int64_t price, int side) {
    size_t i = level_pos(s, price, side);
    return i < s->n && ex_best_level(s, i)->price == price ? ex_best_level(s, i) : NULL;
}

/* Drop the level at best-first index i (it must be empty). */
static void drop_level(ex_side *s, size_t i) {
    size_t idx = s->n - 1 - i;
    free(s->lv[idx].q);
    memmove(&s->lv[idx], &s->lv[idx + 1], (s->n - idx - 1) * sizeof *s->lv);
    s->n--;
}

static int level_push(ex_level *l, const ex_rest *r) {
    if (l->n == l->cap && l->head > 0) { /* reuse the room left by filled orders */
        memmove(l->q, &l->q[l->head], (l->n - l->head) * sizeof *l->q);
        l->n -= l->head;
        l->head = 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        ex_rest *q = realloc(l->q, cap * sizeof *q);
        if (!q) return AITBC_ENOMEM;
        l->q = q;
        l->cap = cap;
    }
    l->q[l->n++] = *r;
    l->total += r->remaining;
    return 0;
}

int ex_book_insert(ex_book *b, int side, const ex_rest *r) {
    ex_side *s = &b->side[side];
    size_t i = level_pos(s, r->price, side);
    if (i < s->n && ex_best_level(s, i)->price == r->price)
        return level_push(ex_best_level(s, i), r);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        ex_level *lv = realloc(s->lv, cap * sizeof *lv);
        if (!lv) return AITBC_ENOMEM;
        s->lv = lv;
        s->cap = cap;
    }
    size_t idx = s->n - i; /* the i better levels stay above it */
    if (i > 0) memmove(&s->lv[idx + 1], &s->lv[idx], i * sizeof *s->lv);
    s->lv[idx] = (ex_level){.price = r->price};
    s->n++;
    int rc = level_push(&s->lv[idx], r);
    if (rc != 0) drop_level(s, i);
    return rc;
}

int ex_book_remove(ex_book *b, int side, int64_t price, const char *order_id, ex_rest *out) {
    ex_side *s = &b->side[side];
    size_t i = level_pos(s, price, side);
    if (i >= s->n || ex_best_level(s, i)->price != price) return AITBC_ENOTFOUND;
    ex_level *l = ex_best_level(s, i);
    for (size_t k = l->head; k < l->n; k++) {
        if (strcmp(l->q[k].order_id, order_id) != 0) continue;
        if (out) *out = l->q[k];
        l->total -= l->q[k].remaining;
        memmove(&l->q[k], &l->q[k + 1], (l->n - k - 1) * sizeof *l->q);
        l->n--;
        if (l->head == l->n) drop_level(s, i);
        return 0;
    }
    return AITBC_ENOTFOUND;
}

int64_t ex_level_qty(const ex_book *b, int side, int64_t price) {
    const ex_level *l = find_level(&b->side[side], price, side);
    return l ? l->total : 0;
}

size_t ex_side_orders(const ex_side *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->lv[i].n - s->lv[i].head;
    return n;
}

const ex_rest *ex_fill_maker(const ex_book *b, int taker_side, const ex_fill *f) {
    const ex_side *s = &b->side[taker_side == EX_BUY ? EX_SELL : EX_BUY];
    return &ex_best_level(s, f->level)->q[f->pos];
}

static int crosses(const ex_taker *t, int64_t maker_price) {
    if (t->type == EX_MARKET) return 1;
    return t->side == EX_BUY ? maker_price <= t->price : maker_price >= t->price;
}

static int push_fill(ex_plan *out, const ex_fill *f) {
    if (out->nfills == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        ex_fill *v = realloc(out->fills, cap * sizeof *v);
        if (!v) return AITBC_ENOMEM;
        out->fills = v;
        out->cap = cap;
    }
    out->fills[out->nfills++] = *f;
    return 0;
}

/* Walk the opposite side collecting fills into out. Returns STOP_* or an error. */
static int walk(const ex_book *b, const ex_params *p, const ex_taker *t, ex_plan *out) {
    const ex_side *s = &b->side[t->side == EX_BUY ? EX_SELL : EX_BUY];
    int by_quote = t->type == EX_MARKET && t->side == EX_BUY;
    int64_t want = t->quantity, budget = t->quote_budget;
    for (size_t j = 0; j < s->n; j++) {
        const ex_level *l = ex_best_level(s, j);
        if (!crosses(t, l->price)) return STOP_BOOK;
        for (size_t i = l->head; i < l->n; i++) {
            const ex_rest *m = &l->q[i];
            if (strcmp(m->owner, t->owner) == 0) return STOP_SELF;
            int64_t q = m->remaining;
            if (by_quote) {
                __int128 afford = (__int128)budget * p->base_scale / m->price;
                afford = afford / p->step * p->step;
                if (afford == 0) return STOP_BUDGET;
                if (afford < q) q = (int64_t)afford;
            } else if (want < q) {
                q = want;
            }
            ex_fill f = {.level = j, .pos = i, .price = m->price, .qty = q};
            int rc = ex_notional(m->price, q, p->base_scale, &f.notional);
            if (rc != 0) return rc;
            int64_t taker_gets = t->side == EX_BUY ? q : f.notional;
            int64_t maker_gets = t->side == EX_BUY ? f.notional : q;
            f.taker_fee = ex_fee_up(taker_gets, p->taker_bps);
            f.maker_fee = ex_fee_up(maker_gets, p->maker_bps);
            if ((rc = push_fill(out, &f)) != 0) return rc;
            out->filled += q;
            out->filled_quote += f.notional;
            out->taker_fees += f.taker_fee;
            if (by_quote) {
                budget -= f.notional;
                if (budget == 0) return STOP_DONE;
                if (q < m->remaining) /* the rest of the budget cannot buy one more step here */
                    return STOP_BUDGET;
            } else {
                want -= q;
                if (want == 0) return STOP_DONE;
            }
        }
    }
    return STOP_BOOK;
}

static int complete(const ex_taker *t, int stop, int any_fill) {
    if (t->type == EX_MARKET && t->side == EX_BUY)
        return (stop == STOP_DONE || stop == STOP_BUDGET) && any_fill;
    return stop == STOP_DONE;
}

int ex_match(const ex_book *b, const ex_params *p, const ex_taker *t, ex_plan *out) {
    memset(out, 0, sizeof *out);
    const ex_side *opp = &b->side[t->side == EX_BUY ? EX_SELL : EX_BUY];
    if (t->type == EX_LIMIT && t->post_only && opp->n > 0 &&
        crosses(t, ex_best_level(opp, 0)->price)) {
        out->status = EX_ST_REJECTED;
        return 0;
    }
    if (t->tif == EX_FOK) {
        /* A dry run first: fill-or-kill never leaves a partial fill behind. */
        ex_plan dry;
        memset(&dry, 0, sizeof dry);
        int stop = walk(b, p, t, &dry);
        int ok = stop >= 0 && complete(t, stop, dry.nfills > 0);
        ex_plan_free(&dry);
        if (stop < 0) return stop;
        if (!ok) {
            out->status = EX_ST_EXPIRED;
            return 0;
        }
    }
    int stop = walk(b, p, t, out);
    if (stop < 0) {
        ex_plan_free(out);
        return stop;
    }
    int64_t left = t->quantity - out->filled;
    if (stop == STOP_SELF)
        out->status = EX_ST_EXPIRED;
    else if (t->type == EX_MARKET)
        out->status = complete(t, stop, out->nfills > 0) ? EX_ST_FILLED : EX_ST_EXPIRED;
    else if (left == 0)
        out->status = EX_ST_FILLED;
    else if (t->tif == EX_GTC) {
        out->rest_qty = left;
        out->status = out->nfills ? EX_ST_PARTIALLY_FILLED : EX_ST_NEW;
    } else
        out->status = EX_ST_EXPIRED;
    return 0;
}

void ex_book_apply(ex_book *b, int taker_side, const ex_plan *plan) {
    ex_side *s = &b->side[taker_side == EX_BUY ? EX_SELL : EX_BUY];
    size_t emptied = 0;
    for (size_t k = 0; k < plan->nfills; k++) {
        const ex_fill *f = &plan->fills[k];
        ex_level *l = ex_best_level(s, f->level);
        l->q[f->pos].remaining -= f->qty;
        l->total -= f->qty;
        /* Fills take each level from its oldest order, so a finished maker is at the head. */
        if (l->q[f->pos].remaining == 0 && f->pos == l->head) l->head++;
        if (l->head == l->n && f->level + 1 > emptied) emptied = f->level + 1;
    }
    /* The levels the plan emptied are the best ones. */
    for (; emptied > 0; emptied--)
        drop_level(s, 0);
}

void ex_plan_free(ex_plan *plan) {
    free(plan->fills);
    plan->fills = NULL;
    plan->nfills = plan->cap = 0;
}

const char *ex_status_name(int status) {
    static const char *const names[] = {"NEW",      "PARTIALLY_FILLED", "FILLED",
                                        "CANCELED", "REJECTED",         "EXPIRED"};
    return status >= 0 && status <= EX_ST_EXPIRED ? names[status] : "UNKNOWN";
}
