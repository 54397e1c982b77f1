/* Integration tests of marketplace offers through the real host: create (every field
 * validated, 400 with the field), roles (403), list with filters, both sorts and keyset paging
 * (cursor bound to filters), get, cancel by the owner (others 404), Idempotency-Key replay, and
 * the `offers` bus topic as a WebSocket client would see it through /v1 reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <aitbc/util.h>
#include "mk_th.h"

#define OFFERS "/v1/marketplace/offers"

static int group_setup(void **st) {
    (void)st;
    return mk_start();
}

static int group_teardown(void **st) {
    (void)st;
    mk_stop();
    return 0;
}

static void test_create_offer(void **st) {
    (void)st;
    th_resp r;
    assert_int_equal(
        mk_req("POST", OFFERS, "k-m1",
               "{\"gpu_model\":\"NVIDIA RTX 4090\",\"gpu_memory_gb\":24,\"gpu_count\":2,"
               "\"models\":[\"llama3\",\"mistral\"],\"region\":\"eu-west\","
               "\"price_per_hour\":\"1.25\",\"hours_available\":10,"
               "\"expires_at\":\"2099-01-01T00:00:00Z\"}",
               &r),
        201);
    assert_true(strncmp(jstr(r.json, "offer_id"), "ofr_", 4) == 0);
    assert_string_equal(jstr(r.json, "provider"), M1);
    assert_string_equal(jstr(r.json, "gpu_model"), "NVIDIA RTX 4090");
    assert_int_equal(jint(r.json, "gpu_memory_gb"), 24);
    assert_int_equal(jint(r.json, "gpu_count"), 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "models")), 2);
    assert_string_equal(jstr(r.json, "region"), "eu-west");
    assert_string_equal(jstr(r.json, "price_per_hour"), "1.25");
    assert_int_equal(jint(r.json, "hours_available"), 10);
    assert_int_equal(jint(r.json, "hours_remaining"), 10);
    assert_string_equal(jstr(r.json, "status"), "OPEN");
    assert_string_equal(jstr(r.json, "expires_at"), "2099-01-01T00:00:00.000Z");
    assert_non_null(jstr(r.json, "created_at"));
    char path[128];
    snprintf(path, sizeof path, OFFERS "/%s", jstr(r.json, "offer_id"));
    th_resp g;
    assert_int_equal(mk_req("GET", path, "k-alice", NULL, &g), 200);
    assert_string_equal(jstr(g.json, "offer_id"), jstr(r.json, "offer_id"));
    th_resp_free(&g);
    th_resp_free(&r);
}

static void test_create_refusals(void **st) {
    (void)st;
    const char *ok = "\"gpu_model\":\"A100\",\"gpu_memory_gb\":80,\"gpu_count\":1,"
                     "\"models\":[],\"region\":\"us\",\"price_per_hour\":\"2\","
                     "\"hours_available\":5";
    char body[2200];
    snprintf(body, sizeof body, "{%s}", ok);
    mk_expect_error("POST", OFFERS, "k-alice", body, 403, "forbidden", NULL);
    mk_expect_error("POST", OFFERS, "k-admin", body, 403, "forbidden", NULL);
    mk_expect_error("POST", OFFERS, NULL, body, 401, "unauthenticated", NULL);
    mk_expect_error("POST", OFFERS, "k-m1", "{\"gpu_model\":", 400, "invalid_json", NULL);
    mk_expect_error("POST", OFFERS, "k-m1", "[]", 400, "invalid_argument", NULL);
    struct {
        const char *extra, *field;
    } bad[] = {
        {"\"x\":1", "x"},
        {"\"gpu_model\":\"\"", "gpu_model"},
        {"\"gpu_model\":7", "gpu_model"},
        {"\"gpu_memory_gb\":0", "gpu_memory_gb"},
        {"\"gpu_memory_gb\":1.5", "gpu_memory_gb"},
        {"\"gpu_memory_gb\":\"8\"", "gpu_memory_gb"},
        {"\"gpu_count\":-1", "gpu_count"},
        {"\"gpu_count\":100000", "gpu_count"},
        {"\"models\":\"llama\"", "models"},
        {"\"models\":[1]", "models"},
        {"\"models\":[\"a\",\"a\"]", "models"},
        {"\"region\":null", "region"},
        {"\"price_per_hour\":\"0\"", "price_per_hour"},
        {"\"price_per_hour\":\"-1\"", "price_per_hour"},
        {"\"price_per_hour\":\"1.0000001\"", "price_per_hour"},
        {"\"price_per_hour\":1", "price_per_hour"},
        {"\"price_per_hour\":\"1e3\"", "price_per_hour"},
        {"\"price_per_hour\":\"9999999999999\"", "price_per_hour"},
        {"\"hours_available\":0", "hours_available"},
        {"\"hours_available\":9000", "hours_available"},
        {"\"expires_at\":\"2001-01-01T00:00:00Z\"", "expires_at"},
        {"\"expires_at\":\"tomorrow\"", "expires_at"},
        {"\"expires_at\":5", "expires_at"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        /* The later duplicate key is what a strict reader must reject or override; build the
         * body from the good fields minus the one under test instead. */
        char fields[1024];
        snprintf(fields, sizeof fields, "%s", ok);
        char name[40];
        const char *colon = strchr(bad[i].extra, ':');
        snprintf(name, sizeof name, "%.*s", (int)(colon - bad[i].extra), bad[i].extra);
        char *at = strstr(fields, name);
        if (at) { /* drop the good member of that name */
            char *end = strchr(at + strlen(name), ',');
            if (end)
                memmove(at, end + 1, strlen(end + 1) + 1);
            else
                at[at > fields ? -1 : 0] = '\0';
        }
        snprintf(body, sizeof body, "{%s,%s}", fields, bad[i].extra);
        mk_expect_error("POST", OFFERS, "k-m1", body, 400, "invalid_argument", bad[i].field);
    }
    /* Missing required members. */
    mk_expect_error("POST", OFFERS, "k-m1", "{}", 400, "invalid_argument", "gpu_model");
    /* Nothing above was stored: M1 has only the offer of test_create_offer. */
    th_resp r;
    assert_int_equal(mk_req("GET", OFFERS "?gpu=A100", "k-m1", NULL, &r), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items")), 0);
    th_resp_free(&r);
}

static int count_items(const char *query, const char *key, cJSON **out) {
    th_resp r;
    char path[512];
    snprintf(path, sizeof path, OFFERS "%s", query);
    if (mk_req("GET", path, key, NULL, &r) != 200) fail_msg("%s: %ld %s", path, r.status, r.body);
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items"));
    if (out) *out = cJSON_Duplicate(r.json, 1);
    th_resp_free(&r);
    return n;
}

static void test_list_filters_sort_paging(void **st) {
    (void)st;
    /* A small catalogue from two miners. */
    const char *prices[] = {"3", "1.5", "2", "1.5", "0.75", "5"};
    const char *gpus[] = {"H100", "RTX 3090", "RTX 4090", "rtx 4090 ti", "T4", "H100"};
    const int mems[] = {80, 24, 24, 24, 16, 80};
    const char *regions[] = {"us", "eu", "eu", "us", "ap", "eu"};
    for (int i = 0; i < 6; i++)
        cJSON_Delete(mk_offer(i % 2 ? "k-m2" : "k-m1", gpus[i], mems[i], regions[i], prices[i], 3));
    assert_int_equal(count_items("?gpu=4090", "k-alice", NULL), 3); /* incl. test_create_offer */
    assert_int_equal(count_items("?gpu=4090&region=eu", "k-m2", NULL), 1);
    assert_int_equal(count_items("?min_memory_gb=80", "k-admin", NULL), 2);
    assert_int_equal(count_items("?max_price=1.5", "k-alice", NULL), 4);
    assert_int_equal(count_items("?model=mistral", "k-alice", NULL), 1);
    assert_int_equal(count_items("?model=nope", "k-alice", NULL), 0);
    assert_int_equal(count_items("?status=CANCELED", "k-alice", NULL), 0);
    /* sort=price: cheapest first, equal prices oldest first; paged two at a time. */
    const char *want[] = {"0.75", "1.25", "1.5", "1.5", "2", "3", "5"};
    char cursor[256] = "", q[512];
    int seen = 0;
    char prev_id[64] = "";
    for (int page = 0; page < 10; page++) {
        cJSON *o;
        snprintf(q, sizeof q, "?sort=price&limit=2%s%s", cursor[0] ? "&cursor=" : "", cursor);
        int n = count_items(q, "k-alice", &o);
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "items")) {
            assert_true(seen < 7);
            assert_string_equal(jstr(it, "price_per_hour"), want[seen]);
            assert_string_not_equal(jstr(it, "offer_id"), prev_id);
            snprintf(prev_id, sizeof prev_id, "%s", jstr(it, "offer_id"));
            seen++;
        }
        const char *next = jstr(o, "next_cursor");
        assert_true(n == 2 || !next);
        if (next) snprintf(cursor, sizeof cursor, "%s", next);
        cJSON_Delete(o);
        if (!next) break;
        /* The cursor is bound to its filters and sort. */
        snprintf(q, sizeof q, OFFERS "?sort=created&limit=2&cursor=%s", cursor);
        mk_expect_error("GET", q, "k-alice", NULL, 400, "invalid_argument", "cursor");
        snprintf(q, sizeof q, OFFERS "?sort=price&limit=2&region=eu&cursor=%s", cursor);
        mk_expect_error("GET", q, "k-alice", NULL, 400, "invalid_argument", "cursor");
    }
    assert_int_equal(seen, 7);
    /* sort=created (default): newest first, stable while new offers arrive. */
    cJSON *o;
    assert_int_equal(count_items("?limit=3", "k-alice", &o), 3);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(o, "items");
    assert_string_equal(jstr(cJSON_GetArrayItem(items, 0), "price_per_hour"), "5");
    snprintf(cursor, sizeof cursor, "%s", jstr(o, "next_cursor"));
    cJSON_Delete(o);
    cJSON_Delete(mk_offer("k-m1", "NEW", 8, "us", "9", 1)); /* lands on page 1, not page 2 */
    snprintf(q, sizeof q, "?limit=3&cursor=%s", cursor);
    assert_int_equal(count_items(q, "k-alice", &o), 3);
    items = cJSON_GetObjectItemCaseSensitive(o, "items");
    assert_string_equal(jstr(cJSON_GetArrayItem(items, 0), "price_per_hour"), "2");
    assert_string_equal(jstr(cJSON_GetArrayItem(items, 1), "price_per_hour"), "1.5");
    assert_string_equal(jstr(cJSON_GetArrayItem(items, 2), "price_per_hour"), "3");
    cJSON_Delete(o);
    const char *bad[][2] = {{"?status=open", "status"},     {"?sort=cheap", "sort"},
                            {"?limit=0", "limit"},          {"?limit=501", "limit"},
                            {"?max_price=-1", "max_price"}, {"?min_memory_gb=x", "min_memory_gb"},
                            {"?cursor=!!!", "cursor"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(q, sizeof q, OFFERS "%s", bad[i][0]);
        mk_expect_error("GET", q, "k-alice", NULL, 400, "invalid_argument", bad[i][1]);
    }
}

static void test_cancel_and_foreign(void **st) {
    (void)st;
    cJSON *o = mk_offer("k-m1", "L4", 24, "us", "1", 4);
    char path[128];
    snprintf(path, sizeof path, OFFERS "/%s", jstr(o, "offer_id"));
    mk_expect_error("DELETE", path, "k-m2", NULL, 404, "not_found", NULL);
    mk_expect_error("DELETE", path, "k-alice", NULL, 403, "forbidden", NULL);
    mk_expect_error("DELETE", OFFERS "/ofr_nope", "k-m1", NULL, 404, "not_found", NULL);
    th_resp r;
    assert_int_equal(mk_req("DELETE", path, "k-m1", NULL, &r), 200);
    assert_string_equal(jstr(r.json, "status"), "CANCELED");
    th_resp_free(&r);
    /* Again: still CANCELED, same answer. */
    assert_int_equal(mk_req("DELETE", path, "k-m1", NULL, &r), 200);
    assert_string_equal(jstr(r.json, "status"), "CANCELED");
    th_resp_free(&r);
    assert_int_equal(count_items("?gpu=L4", "k-alice", NULL), 0);
    assert_int_equal(count_items("?gpu=L4&status=CANCELED", "k-alice", NULL), 1);
    char body[200];
    snprintf(body, sizeof body, "{\"offer_id\":\"%s\",\"hours\":1}", jstr(o, "offer_id"));
    mk_expect_error("POST", "/v1/marketplace/trades", "k-alice", body, 409, "conflict", "offer_id");
    cJSON_Delete(o);
    mk_expect_error("GET", OFFERS "/ofr_nope", "k-alice", NULL, 404, "not_found", NULL);
}

static void test_idempotency_key(void **st) {
    (void)st;
    const char *body = "{\"gpu_model\":\"V100\",\"gpu_memory_gb\":16,\"gpu_count\":1,"
                       "\"models\":[],\"region\":\"us\",\"price_per_hour\":\"0.5\","
                       "\"hours_available\":2}";
    th_resp a, b, c;
    assert_int_equal(mk_req_idem(OFFERS, "k-m2", body, "offer-once", &a), 201);
    assert_int_equal(mk_req_idem(OFFERS, "k-m2", body, "offer-once", &b), 201);
    assert_string_equal(jstr(a.json, "offer_id"), jstr(b.json, "offer_id"));
    assert_int_equal(mk_req_idem(OFFERS, "k-m2",
                                 "{\"gpu_model\":\"V100\",\"gpu_memory_gb\":16,"
                                 "\"gpu_count\":1,\"models\":[],\"region\":\"us\","
                                 "\"price_per_hour\":\"0.6\",\"hours_available\":2}",
                                 "offer-once", &c),
                     409);
    assert_string_equal(th_error_code(&c), "idempotency_mismatch");
    th_resp_free(&a);
    th_resp_free(&b);
    th_resp_free(&c);
    assert_int_equal(count_items("?gpu=V100", "k-alice", NULL), 1);
}

static int expired(void *arg) {
    th_resp g;
    int yes = mk_req("GET", arg, "k-alice", NULL, &g) == 200 &&
              strcmp(jstr(g.json, "status"), "EXPIRED") == 0;
    th_resp_free(&g);
    return yes;
}

static void test_expiry(void **st) {
    (void)st;
    char body[512], exp[40];
    /* Expires 300 ms from now by the host's clock (it shares ours). */
    aitbc_time_format(aitbc_now_ms() + 300, exp);
    snprintf(body, sizeof body,
             "{\"gpu_model\":\"K80\",\"gpu_memory_gb\":12,\"gpu_count\":1,\"models\":[],"
             "\"region\":\"us\",\"price_per_hour\":\"0.1\",\"hours_available\":2,"
             "\"expires_at\":\"%s\"}",
             exp);
    th_resp r;
    assert_int_equal(mk_req("POST", OFFERS, "k-m1", body, &r), 201);
    char path[128];
    snprintf(path, sizeof path, OFFERS "/%s", jstr(r.json, "offer_id"));
    th_resp_free(&r);
    assert_true(th_wait_until(expired, path, 10000));
    assert_int_equal(count_items("?gpu=K80&status=EXPIRED", "k-alice", NULL), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_offer),
        cmocka_unit_test(test_create_refusals),
        cmocka_unit_test(test_list_filters_sort_paging),
        cmocka_unit_test(test_cancel_and_foreign),
        cmocka_unit_test(test_idempotency_key),
        cmocka_unit_test(test_expiry),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
