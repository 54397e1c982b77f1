/* On PostgreSQL, a host whose server sessions all end (server restart, network cut) keeps
 * serving: a thread opens a new connection on its next use (the writer at its next BEGIN, where
 * nothing is lost yet, so the next write commits at once). Skips on SQLite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

#define KEY "k-client"
#define PLUGINS                                                                                    \
    "  auth-static: { keys: [ {key: \"" KEY "\", role: client, address: "                          \
    "\"ait1"                                                                                       \
    "00000000000000000000000000000000000000c1\"} ] }\n"                                            \
    "  batchprobe: {}\n"

static long post_item(th_host *h, const char *id) {
    char json[128];
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"mode\":\"ok\"}", id);
    th_resp r = {0};
    long status = th_req(h, "POST", "/v1/batchprobe/items", KEY, json, &r) == 0 ? r.status : -1;
    if (status >= 400 && !cJSON_GetObjectItemCaseSensitive(r.json, "error")) status = -2;
    th_resp_free(&r);
    return status;
}

static void survives_lost_sessions(void **state) {
    (void)state;
    if (!th_on_postgres()) skip(); /* needs AITBC_TEST_PG_DSN: there is no server to lose */
    th_host *h = th_start(PLUGINS, NULL);
    assert_non_null(h);
    assert_int_equal(post_item(h, "before"), 201);
    for (int round = 0; round < 3; round++) {
        assert_true(th_pg_terminate(h) >= 1);
        /* The writer was idle: its dead session is noticed at BEGIN, before any work, and
         * replaced there, so the next write commits at once. */
        char id[32];
        snprintf(id, sizeof id, "after-%d", round);
        assert_int_equal(post_item(h, id), 201);
        assert_int_equal(th_db_count(h, "SELECT count(*) FROM batchprobe_items WHERE id = ?", id),
                         1);
    }
    assert_int_equal(th_db_count(h, "SELECT count(*) FROM batchprobe_items WHERE id = ?", "before"),
                     1);
    assert_int_equal(th_end(&h), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(survives_lost_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
