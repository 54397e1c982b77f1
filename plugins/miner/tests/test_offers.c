/* Unit tests of the wake bookkeeping (offers.c) over a hand-built registry: a queued job is
 * promised to one fitting parked miner, least loaded first; promises count as load; a woken poll
 * that did not take its job passes the offer on to the next fitting parked miner, never twice to
 * the same one; taking the job or its leaving QUEUED ends the promise; and the one fit check
 * (mn_live_match) every scan of the registry uses. */
#include "miner.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

static miner_state MS;

static mn_live *add(const char *address, const char *types, int64_t slots, int64_t running,
                    int parked, int64_t parked_since) {
    miner_state *ms = &MS;
    ms->live = realloc(ms->live, (ms->n_live + 1) * sizeof *ms->live);
    assert_non_null(ms->live);
    mn_live *e = &ms->live[ms->n_live++];
    memset(e, 0, sizeof *e);
    char caps[256];
    snprintf(caps, sizeof caps, "{\"job_types\":%s}", types);
    snprintf(e->row.address, sizeof e->row.address, "%s", address);
    snprintf(e->row.status, sizeof e->row.status, "ONLINE");
    snprintf(e->row.unit_type, sizeof e->row.unit_type, "job");
    e->row.capabilities = cJSON_Parse(caps);
    e->row.concurrency = slots;
    e->row.unit_price = 1;
    e->running = running;
    e->parked = parked;
    e->parked_since_ms = parked_since;
    return e;
}

static mn_live *live(const char *address) {
    for (size_t i = 0; i < MS.n_live; i++)
        if (strcmp(MS.live[i].row.address, address) == 0) return &MS.live[i];
    fail_msg("no miner %s", address);
    return NULL;
}

static int teardown(void **st) {
    (void)st;
    mn_offers_free(&MS);
    for (size_t i = 0; i < MS.n_live; i++)
        mn_row_free(&MS.live[i].row);
    free(MS.live);
    memset(&MS, 0, sizeof MS);
    return 0;
}

static void expect_key(const char *key, const char *address) {
    char want[MN_WAKE_KEY_MAX];
    mn_wake_key(address, want);
    assert_string_equal(key, want);
}

/* An answer that hands out job_id (or nothing when NULL). */
static cJSON *answer(const char *job_id) {
    cJSON *a = cJSON_CreateObject(), *jobs = cJSON_AddArrayToObject(a, "jobs");
    if (job_id) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "job_id", job_id);
        cJSON_AddItemToArray(jobs, j);
    }
    cJSON_AddArrayToObject(a, "cancel");
    return a;
}

static size_t settle(const char *address, const char *took, char keys[][MN_WAKE_KEY_MAX]) {
    cJSON *a = answer(took);
    size_t n = mn_offer_settle(&MS, address, a, keys);
    cJSON_Delete(a);
    return n;
}

static void test_one_fitting_parked_miner_least_loaded(void **st) {
    (void)st;
    add("busy", "[\"t\"]", 2, 1, 1, 1);      /* 1/2 loaded, parked longest */
    add("idle", "[\"t\"]", 2, 0, 1, 5);      /* the one */
    add("asleep", "[\"t\"]", 4, 0, 0, 0);    /* not parked */
    add("other", "[\"other\"]", 4, 0, 1, 0); /* does not fit */
    char key[MN_WAKE_KEY_MAX];
    assert_int_equal(mn_offer_open(&MS, "job_1", "t", NULL, 10, 0, key, NULL), 1);
    expect_key(key, "idle");
    assert_int_equal(live("idle")->promised, 1);
    assert_int_equal(mn_offer_aimed(&MS, "idle"), 1); /* room settle needs for its keys */
    assert_int_equal(mn_offer_aimed(&MS, "busy"), 0);
    /* the same job queued again while its wake is open: no second wake */
    assert_int_equal(mn_offer_open(&MS, "job_1", "t", NULL, 10, 0, key, NULL), 0);
    /* it took it: the promise ends */
    char keys[4][MN_WAKE_KEY_MAX];
    assert_int_equal(settle("idle", "job_1", keys), 0);
    assert_int_equal(live("idle")->promised, 0);
    assert_null(mn_offer_find(&MS, "job_1"));
}

static void test_promises_count_as_load(void **st) {
    (void)st;
    add("a", "[\"t\"]", 1, 0, 1, 1);
    add("b", "[\"t\"]", 1, 0, 1, 2);
    char k1[MN_WAKE_KEY_MAX], k2[MN_WAKE_KEY_MAX], k3[MN_WAKE_KEY_MAX];
    assert_int_equal(mn_offer_open(&MS, "job_1", "t", NULL, 10, 0, k1, NULL), 1);
    assert_int_equal(mn_offer_open(&MS, "job_2", "t", NULL, 10, 0, k2, NULL), 1);
    expect_key(k1, "a");
    expect_key(k2, "b");
    /* both slots promised: a third job wakes nobody (it waits for the next poll) */
    assert_int_equal(mn_offer_open(&MS, "job_3", "t", NULL, 10, 0, k3, NULL), 0);
    assert_null(mn_offer_find(&MS, "job_3"));
    /* job_1 left QUEUED (taken by someone's heartbeat): a's promise ends */
    mn_offer_close(&MS, mn_offer_find(&MS, "job_1"));
    assert_int_equal(live("a")->promised, 0);
    assert_int_equal(live("b")->promised, 1);
}

static void test_lost_wake_moves_on_once_per_miner(void **st) {
    (void)st;
    add("a", "[\"t\"]", 1, 0, 1, 1);
    add("b", "[\"t\"]", 1, 0, 1, 2);
    add("c", "[\"t\"]", 1, 0, 1, 3);
    char key[MN_WAKE_KEY_MAX], keys[4][MN_WAKE_KEY_MAX];
    assert_int_equal(mn_offer_open(&MS, "job_1", "t", NULL, 10, 0, key, NULL), 1);
    expect_key(key, "a");
    /* a's retry came back empty (it re-parks): b is woken, not a again */
    assert_int_equal(settle("a", NULL, keys), 1);
    expect_key(keys[0], "b");
    assert_int_equal(live("a")->promised, 0);
    assert_int_equal(live("b")->promised, 1);
    /* b's dispatch failed (no answer): on to c */
    assert_int_equal(mn_offer_settle(&MS, "b", NULL, keys), 1);
    expect_key(keys[0], "c");
    /* a poll settling an offer that is not its own changes nothing */
    assert_int_equal(settle("a", NULL, keys), 0);
    assert_int_equal(live("c")->promised, 1);
    /* c took another job, not this one: nobody is left untried; the offer ends */
    assert_int_equal(settle("c", "job_9", keys), 0);
    assert_null(mn_offer_find(&MS, "job_1"));
    for (size_t i = 0; i < MS.n_live; i++)
        assert_int_equal(MS.live[i].promised, 0);
}

static void test_draining_full_and_priced_out_are_skipped(void **st) {
    (void)st;
    mn_live *d = add("draining", "[\"t\"]", 4, 0, 1, 1);
    snprintf(d->row.status, sizeof d->row.status, "DRAINING");
    add("full", "[\"t\"]", 2, 2, 1, 2);
    mn_live *dear = add("dear", "[\"t\"]", 4, 0, 1, 3);
    dear->row.unit_price = 100;
    char key[MN_WAKE_KEY_MAX];
    assert_int_equal(mn_offer_open(&MS, "job_1", "t", NULL, 10, 0, key, NULL), 0);
    add("fits", "[\"t\"]", 1, 0, 1, 4);
    /* pinned to another miner: only that one fits */
    cJSON *pin = cJSON_Parse("{\"miner\":\"fits\"}");
    assert_int_equal(mn_offer_open(&MS, "job_2", "t", pin, 10, 0, key, NULL), 1);
    cJSON_Delete(pin);
    expect_key(key, "fits");
}

/* The job_assigned hint comes from the same pass as the wake: the least-loaded fitting ONLINE
 * miner, parked or not, counting the promise just made; also when no offer opens. */
static void test_hint_counts_the_wake(void **st) {
    (void)st;
    add("parked", "[\"t\"]", 2, 0, 1, 1);
    add("asleep", "[\"t\"]", 2, 0, 0, 10); /* a tie before the wake; parked since later */
    add("other", "[\"u\"]", 4, 0, 0, 0);
    char key[MN_WAKE_KEY_MAX];
    mn_live *hint = NULL;
    assert_int_equal(mn_offer_open(&MS, "job_1", "t", NULL, 10, 0, key, &hint), 1);
    expect_key(key, "parked");
    assert_non_null(hint);
    assert_string_equal(hint->row.address, "asleep");
    /* open already: no wake, the hint as the registry stands (parked 1/2, asleep 0/2) */
    hint = NULL;
    assert_int_equal(mn_offer_open(&MS, "job_1", "t", NULL, 10, 0, key, &hint), 0);
    assert_non_null(hint);
    assert_string_equal(hint->row.address, "asleep");
    /* nobody parked fits: no wake, a hint all the same */
    assert_int_equal(mn_offer_open(&MS, "job_2", "u", NULL, 10, 0, key, &hint), 0);
    assert_non_null(hint);
    assert_string_equal(hint->row.address, "other");
    assert_int_equal(mn_offer_open(&MS, "job_3", "v", NULL, 10, 0, key, &hint), 0);
    assert_null(hint);
}

/* The one fit check every scan of the registry uses: ONLINE only, then jc_match's verdict. */
static void test_live_match(void **st) {
    (void)st;
    mn_live *e = add("m", "[\"t\"]", 1, 1, 0, 0); /* load and parking do not matter */
    assert_int_equal(mn_live_online(e), 1);
    assert_int_equal(mn_live_match(e, "t", NULL, 10), JC_MATCH_OK);
    assert_int_equal(mn_live_match(e, "u", NULL, 10), JC_MATCH_NO);
    e->row.unit_price = 100;
    assert_int_equal(mn_live_match(e, "t", NULL, 10), JC_MATCH_PRICE);
    e->row.unit_price = 1;
    snprintf(e->row.status, sizeof e->row.status, "DRAINING");
    assert_int_equal(mn_live_online(e), 0);
    assert_int_equal(mn_live_match(e, "t", NULL, 10), JC_MATCH_NO);
}

static void test_unsettled_offers_expire(void **st) {
    (void)st;
    add("a", "[\"t\"]", 1, 0, 1, 1);
    char key[MN_WAKE_KEY_MAX];
    assert_int_equal(mn_offer_open(&MS, "job_1", "t", NULL, 10, 1000, key, NULL), 1);
    mn_offer_expire(&MS, 2000);
    assert_non_null(mn_offer_find(&MS, "job_1"));
    mn_offer_expire(&MS, 1000 + 61000);
    assert_null(mn_offer_find(&MS, "job_1"));
    assert_int_equal(live("a")->promised, 0);
}

/* A table row as the reload reads it (metrics included, which the registry drops). */
static mn_row table_row(const char *address, const char *status, const char *types) {
    mn_row r;
    memset(&r, 0, sizeof r);
    char caps[256];
    snprintf(caps, sizeof caps, "{\"job_types\":%s}", types);
    snprintf(r.address, sizeof r.address, "%s", address);
    snprintf(r.status, sizeof r.status, "%s", status);
    snprintf(r.unit_type, sizeof r.unit_type, "job");
    r.capabilities = cJSON_Parse(caps);
    r.metrics = strdup("{\"gpu_util\":1}");
    r.concurrency = 4;
    r.unit_price = 1;
    return r;
}

/* The registry rebuilt from the table (several hosts on one database): the rows decide who is
 * listed and with which profile; a miner it held keeps this host's load, promises and parked
 * polls; one the table no longer lists as ONLINE or DRAINING leaves; a new one starts with none,
 * and the next queued job's wake reaches the profile the table gave. */
static void test_adopt_rows_keep_local_state(void **st) {
    (void)st;
    add("ait1a", "[\"x\"]", 2, 1, 1, 100)->promised = 1;
    add("ait1gone", "[\"x\"]", 2, 0, 1, 50);
    mn_row rows[3] = {table_row("ait1a", "ONLINE", "[\"y\"]"),
                      table_row("ait1new", "DRAINING", "[\"x\"]"),
                      table_row("ait1off", "OFFLINE", "[\"x\"]")};
    assert_int_equal(mn_live_adopt(&MS, rows, 3), 0);
    for (size_t i = 0; i < 3; i++) /* every row was taken */
        assert_null(rows[i].capabilities);
    assert_int_equal(MS.n_live, 2);
    mn_live *a = live("ait1a"), *n = live("ait1new");
    assert_int_equal(a->running, 1);
    assert_int_equal(a->promised, 1);
    assert_int_equal(a->parked, 1);
    assert_int_equal(a->parked_since_ms, 100);
    assert_null(a->row.metrics);
    assert_int_equal(n->parked, 0);
    assert_int_equal(n->promised, 0);
    assert_string_equal(n->row.status, "DRAINING");
    /* ait1a now takes only type y (its new profile): an x job wakes nobody, a y job wakes it. */
    char key[MN_WAKE_KEY_MAX];
    cJSON *c = cJSON_CreateObject();
    assert_int_equal(mn_offer_open(&MS, "job_x", "x", c, 10, 0, key, NULL), 0);
    assert_int_equal(mn_offer_open(&MS, "job_y", "y", c, 10, 0, key, NULL), 1);
    expect_key(key, "ait1a");
    cJSON_Delete(c);
    /* No rows at all: an empty registry. */
    assert_int_equal(mn_live_adopt(&MS, NULL, 0), 0);
    assert_int_equal(MS.n_live, 0);
    assert_null(MS.live);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_one_fitting_parked_miner_least_loaded, teardown),
        cmocka_unit_test_teardown(test_promises_count_as_load, teardown),
        cmocka_unit_test_teardown(test_lost_wake_moves_on_once_per_miner, teardown),
        cmocka_unit_test_teardown(test_draining_full_and_priced_out_are_skipped, teardown),
        cmocka_unit_test_teardown(test_hint_counts_the_wake, teardown),
        cmocka_unit_test_teardown(test_live_match, teardown),
        cmocka_unit_test_teardown(test_unsettled_offers_expire, teardown),
        cmocka_unit_test_teardown(test_adopt_rows_keep_local_state, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
