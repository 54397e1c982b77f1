/* The pure matching engine: price-time priority over sorted arrays, fills at the resting price,
 * self-trade prevention (the taker expires), post-only, IOC/FOK, market buys by quote amount, and
 * exact settlement arithmetic (128-bit intermediates, fees rounded up). */
#include <stdlib.h>
#include <string.h>
#include <aitbc/errors.h>
#include "engine.h"

enum { STOP_DONE, STOP_BOOK, STOP_SELF, STOP_BUDGET };

int ex_notional(int64_t price, int64_t qty, int64_t base_scale, int64_t *out)
{
    if (price < 0 || qty < 0 || base_scale <= 0)
        return AITBC_EINVAL;
    __int128 prod = (__int128)price * qty;
    if (prod % base_scale != 0)
        return AITBC_EINVAL;
    prod /= base_scale;
    if (prod > INT64_MAX)
        return AITBC_EOVERFLOW;
    *out = (int64_t)prod;
    return 0;
}

int64_t ex_fee_up(int64_t amount, int bps)
{
    if (amount <= 0 || bps <= 0)
        return 0;
    __int128 x = (__int128)amount * bps;
    return (int64_t)((x + 9999) / 10000);
}

int ex_grid_ok(int64_t tick, int64_t step, int64_t base_scale)
{
    if (tick <= 0 || step <= 0 || base_scale <= 0)
        return 0;
    return ((__int128)tick * step) % base_scale == 0;
}

/* a goes before b on this side. */
static int before(const ex_rest *a, const ex_rest *b, int side)
{
    if (a->price != b->price)
        return side == EX_BUY ? a->price > b->price : a->price < b->price;
    return a->seq < b->seq;
}

void ex_book_free(ex_book *b)
{
    for (int i = 0; i < 2; i++) {
        free(b->side[i].v);
        b->side[i].v = NULL;
        b->side[i].n = b->side[i].cap = 0;
    }
}

int ex_book_insert(ex_book *b, int side, const ex_rest *r)
{
    ex_side *s = &b->side[side];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        ex_rest *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return AITBC_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    size_t lo = 0, hi = s->n; /* first index that r goes before */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (before(&s->v[mid], r, side))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n)
        memmove(&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof *s->v);
    s->v[lo] = *r;
    s->n++;
    return 0;
}

int ex_book_remove(ex_book *b, int side, const char *order_id, ex_rest *out)
{
    ex_side *s = &b->side[side];
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].order_id, order_id) != 0)
            continue;
        if (out)
            *out = s->v[i];
        memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
        s->n--;
        return 0;
    }
    return AITBC_ENOTFOUND;
}

int64_t ex_level_qty(const ex_book *b, int side, int64_t price)
{
    const ex_side *s = &b->side[side];
    size_t lo = 0, hi = s->n; /* first index whose price is not better than `price` */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int better = side == EX_BUY ? s->v[mid].price > price : s->v[mid].price < price;
        if (better)
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t sum = 0;
    for (size_t i = lo; i < s->n && s->v[i].price == price; i++)
        sum += s->v[i].remaining;
    return sum;
}

static int crosses(const ex_taker *t, int64_t maker_price)
{
    if (t->type == EX_MARKET)
        return 1;
    return t->side == EX_BUY ? maker_price <= t->price : maker_price >= t->price;
}

static int push_fill(ex_plan *out, const ex_fill *f)
{
    if (out->nfills == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        ex_fill *v = realloc(out->fills, cap * sizeof *v);
        if (!v)
            return AITBC_ENOMEM;
        out->fills = v;
        out->cap = cap;
    }
    out->fills[out->nfills++] = *f;
    return 0;
}

/* Walk the opposite side collecting fills into out. Returns STOP_* or an error. */
static int walk(const ex_book *b, const ex_params *p, const ex_taker *t, ex_plan *out)
{
    const ex_side *s = &b->side[t->side == EX_BUY ? EX_SELL : EX_BUY];
    int by_quote = t->type == EX_MARKET && t->side == EX_BUY;
    int64_t want = t->quantity, budget = t->quote_budget;
    for (size_t i = 0; i < s->n; i++) {
        const ex_rest *m = &s->v[i];
        if (!crosses(t, m->price))
            return STOP_BOOK;
        if (strcmp(m->owner, t->owner) == 0)
            return STOP_SELF;
        int64_t q = m->remaining;
        if (by_quote) {
            __int128 afford = (__int128)budget * p->base_scale / m->price;
            afford = afford / p->step * p->step;
            if (afford == 0)
                return STOP_BUDGET;
            if (afford < q)
                q = (int64_t)afford;
        } else if (want < q) {
            q = want;
        }
        ex_fill f = {.maker_idx = i, .price = m->price, .qty = q};
        int rc = ex_notional(m->price, q, p->base_scale, &f.notional);
        if (rc != 0)
            return rc;
        int64_t taker_gets = t->side == EX_BUY ? q : f.notional;
        int64_t maker_gets = t->side == EX_BUY ? f.notional : q;
        f.taker_fee = ex_fee_up(taker_gets, p->taker_bps);
        f.maker_fee = ex_fee_up(maker_gets, p->maker_bps);
        if ((rc = push_fill(out, &f)) != 0)
            return rc;
        out->filled += q;
        out->filled_quote += f.notional;
        out->taker_fees += f.taker_fee;
        if (by_quote) {
            budget -= f.notional;
            if (budget == 0)
                return STOP_DONE;
            if (q < m->remaining) /* the rest of the budget cannot buy one more step here */
                return STOP_BUDGET;
        } else {
            want -= q;
            if (want == 0)
                return STOP_DONE;
        }
    }
    return STOP_BOOK;
}

static int complete(const ex_taker *t, int stop, int any_fill)
{
    if (t->type == EX_MARKET && t->side == EX_BUY)
        return (stop == STOP_DONE || stop == STOP_BUDGET) && any_fill;
    return stop == STOP_DONE;
}

int ex_match(const ex_book *b, const ex_params *p, const ex_taker *t, ex_plan *out)
{
    memset(out, 0, sizeof *out);
    const ex_side *opp = &b->side[t->side == EX_BUY ? EX_SELL : EX_BUY];
    if (t->type == EX_LIMIT && t->post_only && opp->n > 0 && crosses(t, opp->v[0].price)) {
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
        if (stop < 0)
            return stop;
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

void ex_book_apply(ex_book *b, int taker_side, const ex_plan *plan)
{
    ex_side *s = &b->side[taker_side == EX_BUY ? EX_SELL : EX_BUY];
    size_t gone = 0;
    for (size_t k = 0; k < plan->nfills; k++) {
        ex_rest *m = &s->v[plan->fills[k].maker_idx];
        m->remaining -= plan->fills[k].qty;
        if (m->remaining == 0)
            gone++;
    }
    /* Fills consume the side from the front, so the finished makers are its first `gone`. */
    if (gone == 0)
        return;
    memmove(&s->v[0], &s->v[gone], (s->n - gone) * sizeof *s->v);
    s->n -= gone;
}

void ex_plan_free(ex_plan *plan)
{
    free(plan->fills);
    plan->fills = NULL;
    plan->nfills = plan->cap = 0;
}

const char *ex_status_name(int status)
{
    static const char *const names[] = {"NEW",      "PARTIALLY_FILLED", "FILLED",
                                        "CANCELED", "REJECTED",         "EXPIRED"};
    return status >= 0 && status <= EX_ST_EXPIRED ? names[status] : "UNKNOWN";
}
