/* Unit tests of the cluster modules (cluster*.c). The pure helpers always run. With
 * AITBC_TEST_PG_DSN set (a PostgreSQL the tests may create schemas in) the rest runs against the
 * real server, each run in a schema of its own:
 *  - leadership: a child process takes a role; this process cannot while it lives; after kill -9
 *    of the child this process takes it within a few seconds, and host_leaders shows the hand-over;
 *  - the fence query sees the holder's session and nothing once it is gone;
 *  - events: another host's rows are published on the local bus in seq order, this host's own
 *    are not; a row whose NOTIFY never came (or came while the connection was down) still
 *    arrives after the connection is killed and comes back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "cluster_priv.h"
#include "internal.h"

#define ROLE "test.role"

static char g_schema[64];
static const char *g_dsn;

static void test_hash_and_names(void **state) {
    (void)state;
    assert_int_equal(cluster_hash32(""), 2166136261u);
    assert_int_equal(cluster_hash32("a"), 0xe40c292cu); /* FNV-1a reference value */
    char ch[CLUSTER_CHANNEL_MAX];
    cluster_channel_name(0xabcdu, ch);
    assert_string_equal(ch, "aitbc_events_0000abcd");
    assert_true(cluster_node_id_valid("node-1.example:18000"));
    assert_false(cluster_node_id_valid(""));
    assert_false(cluster_node_id_valid("has space"));
    assert_false(cluster_node_id_valid("quote'"));
    char long_id[80];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_false(cluster_node_id_valid(long_id));
    long_id[63] = '\0';
    assert_true(cluster_node_id_valid(long_id));
    char a[CLUSTER_NODE_ID_MAX], b[CLUSTER_NODE_ID_MAX];
    cluster_node_id_default(a);
    cluster_node_id_default(b);
    assert_true(cluster_node_id_valid(a));
    assert_string_not_equal(a, b); /* two hosts on one machine differ */
    int32_t k1, k2, k3, k4;
    cluster_role_keys(0x80000001u, "chain.producer", &k1, &k2);
    assert_int_equal((uint32_t)k1, 0x80000001u);
    assert_int_equal((uint32_t)k2, cluster_hash32("chain.producer"));
    cluster_role_keys(0x80000001u, "exchange.AIT-BTC", &k3, &k4);
    assert_int_not_equal(k2, k4);
}

static void test_no_cluster_is_always_leader(void **state) {
    (void)state;
    assert_false(cluster_active());
    assert_int_equal(cluster_leader(NULL, "chain.producer"), 1);
    assert_int_equal(cluster_leader(NULL, "bad role"), 0);
    assert_int_equal(cluster_outbox_wake("job:x"), 0); /* nothing to write without a cluster */
    assert_int_equal(cluster_outbox_flush(), 0);
    cluster_stats st;
    assert_int_equal(cluster_get_stats(&st), 0); /* no cluster series on /metrics */
}

/* ---- against a real server ---- */

static PGconn *raw(void) {
    PGconn *c = PQconnectdb(g_dsn);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

static void exec_ok(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static char *scalar(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    char *v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                  ? strdup(PQgetvalue(r, 0, 0))
                  : strdup("");
    PQclear(r);
    return v;
}

static int64_t mono_ms(void) {
    return aitbc_mono_us() / 1000;
}

static int wait_leader(int64_t within_ms) {
    int64_t until = mono_ms() + within_ms;
    while (mono_ms() < until) {
        if (cluster_leader(NULL, ROLE) == 1) return 1;
        usleep(50 * 1000);
    }
    return 0;
}

/* The fence query, on another connection, with the store's `?` numbered as $1..$3. */
static int fence_sees(PGconn *c, int pid) {
    char sql[1024], *o = sql;
    int n = 0;
    for (const char *p = CLUSTER_FENCE_SQL; *p && o < sql + sizeof sql - 4; p++) {
        if (*p == '?')
            o += sprintf(o, "$%d", ++n);
        else
            *o++ = *p;
    }
    *o = '\0';
    int32_t k1, k2;
    cluster_role_keys(cluster_schema_hash(), ROLE, &k1, &k2);
    char a[16], b[16], d[16];
    snprintf(a, sizeof a, "%u", (unsigned)(uint32_t)k1);
    snprintf(b, sizeof b, "%u", (unsigned)(uint32_t)k2);
    snprintf(d, sizeof d, "%d", pid);
    const char *params[3] = {a, b, d};
    PGresult *r = PQexecParams(c, sql, 3, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int rows = PQntuples(r);
    PQclear(r);
    return rows;
}

static void test_leader_takeover_after_kill(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) { /* another host: takes the role, says so, then waits to be killed */
        close(fds[0]);
        if (cluster_start(g_dsn, "child-host", 200, 3600) != 0 || !wait_leader(10000)) _exit(1);
        char ok = 1;
        if (write(fds[1], &ok, 1) != 1) _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    struct pollfd p = {fds[0], POLLIN, 0};
    char ok = 0;
    assert_int_equal(poll(&p, 1, 15000), 1);
    assert_int_equal(read(fds[0], &ok, 1), 1);
    close(fds[0]);

    assert_int_equal(cluster_start(g_dsn, "parent-host", 200, 3600), 0);
    assert_int_equal(cluster_leader(NULL, ROLE), 0);
    assert_false(wait_leader(1500)); /* the child holds it: we keep trying and failing */
    PGconn *c = raw();
    char *holder = scalar(c, "SELECT holder || ' ' || epoch FROM host_leaders WHERE role = "
                             "'" ROLE "'");
    assert_string_equal(holder, "child-host 1");
    free(holder);

    kill(child, SIGKILL);
    int st;
    waitpid(child, &st, 0);
    int64_t t0 = mono_ms();
    assert_true(wait_leader(10000));
    print_message("takeover %lld ms after kill -9\n", (long long)(mono_ms() - t0));
    holder = scalar(c, "SELECT holder || ' ' || epoch FROM host_leaders WHERE role = '" ROLE "'");
    assert_string_equal(holder, "parent-host 2");
    free(holder);

    int pid = leader_session_pid(ROLE);
    assert_true(pid > 0);
    cluster_stats cs;
    assert_int_equal(cluster_get_stats(&cs), 1);
    assert_int_equal(cs.nroles, 1);
    assert_string_equal(cs.roles[0], ROLE);
    assert_int_equal(cs.held[0], 1);
    assert_int_equal(fence_sees(c, pid), 1);
    assert_int_equal(fence_sees(c, pid + 100000), 0); /* not any other session */
    cluster_stop(); /* closes the session: the lock goes with it */
    assert_int_equal(fence_sees(c, pid), 0);
    PQfinish(c);
}

typedef struct got {
    pthread_mutex_t mu;
    int n;
    int values[64];
} got;
static got g_got = {PTHREAD_MUTEX_INITIALIZER, 0, {0}};

static void on_event(const char *topic, uint64_t seq, const cJSON *data, void *user) {
    (void)topic;
    (void)seq;
    got *g = user;
    pthread_mutex_lock(&g->mu);
    if (g->n < 64) g->values[g->n] = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(data, "n"));
    g->n++;
    pthread_mutex_unlock(&g->mu);
}

static int wait_events(int n, int64_t within_ms) {
    int64_t until = mono_ms() + within_ms;
    for (;;) {
        pthread_mutex_lock(&g_got.mu);
        int have = g_got.n;
        pthread_mutex_unlock(&g_got.mu);
        if (have >= n || mono_ms() >= until) return have;
        usleep(20 * 1000);
    }
}

static void insert_row(PGconn *c, const char *origin, int n, int notify) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO host_events(origin, kind, name, data, at_ms) "
             "VALUES('%s', 'e', 'test.topic', '{\"n\":%d}', %lld)",
             origin, n, (long long)aitbc_now_ms());
    exec_ok(c, sql);
    if (notify) {
        snprintf(sql, sizeof sql, "NOTIFY %s, '1'", cluster_channel());
        exec_ok(c, sql);
    }
}

static void test_events_cross_hosts(void **state) {
    (void)state;
    assert_int_equal(bus_start(), 0);
    assert_int_equal(bus_subscribe("test.topic", on_event, &g_got), 0);
    PGconn *c = raw();
    exec_ok(c, "INSERT INTO host_events(origin, kind, name, data, at_ms) "
               "VALUES('old-host', 'e', 'test.topic', '{\"n\":99}', 0)");
    assert_int_equal(cluster_start(g_dsn, "me", 60000, 3600), 0); /* no polling: NOTIFY only */
    insert_row(c, "other", 1, 0);
    insert_row(c, "me", 2, 0); /* our own: never delivered again */
    insert_row(c, "other", 3, 1);
    int first = wait_events(2, 5000);
    if (first != 2) print_message("got %d: %d\n", first, g_got.values[0]);
    assert_int_equal(first, 2);
    /* A row without a NOTIFY while the connection is cut: it arrives after the reconnect. */
    char *pid = scalar(c, "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
                          "application_name = 'test_cluster'");
    assert_true(pid[0]);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%s)", pid);
    free(pid);
    exec_ok(c, sql);
    insert_row(c, "other", 4, 0);
    insert_row(c, "other", 5, 0);
    cluster_poke(); /* the thread notices the dead connection and reconnects (poll 60 s) */
    assert_int_equal(wait_events(4, 10000), 4);
    usleep(300 * 1000);
    pthread_mutex_lock(&g_got.mu);
    assert_int_equal(g_got.n, 4); /* neither row 99 (before start) nor our own row 2 */
    assert_int_equal(g_got.values[0], 1);
    assert_int_equal(g_got.values[1], 3);
    assert_int_equal(g_got.values[2], 4);
    assert_int_equal(g_got.values[3], 5);
    pthread_mutex_unlock(&g_got.mu);
    cluster_stats cs;
    assert_int_equal(cluster_get_stats(&cs), 1);
    assert_int_equal(cs.received, 4);
    assert_int_equal(cs.connected, 1);
    cluster_stop();
    bus_stop();
    PQfinish(c);
}

static int pg_setup(void **state) {
    (void)state;
    snprintf(g_schema, sizeof g_schema, "cluster_test_%ld", (long)getpid());
    PGconn *c = PQconnectdb(g_dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "AITBC_TEST_PG_DSN: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", g_schema);
    PQclear(PQexec(c, sql));
    PQfinish(c);
    /* Every connection of this process (and its child) works in that schema. */
    char opts[128];
    snprintf(opts, sizeof opts, "-c search_path=%s", g_schema);
    setenv("PGOPTIONS", opts, 1);
    setenv("PGAPPNAME", "test_cluster", 1);
    return 0;
}

static int pg_teardown(void **state) {
    (void)state;
    unsetenv("PGOPTIONS");
    PGconn *c = PQconnectdb(g_dsn);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", g_schema);
    PQclear(PQexec(c, sql));
    PQfinish(c);
    return 0;
}

int main(void) {
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_hash_and_names),
        cmocka_unit_test(test_no_cluster_is_always_leader),
    };
    int rc = cmocka_run_group_tests_name("cluster", pure, NULL, NULL);
    g_dsn = getenv("AITBC_TEST_PG_DSN");
    if (!g_dsn || !g_dsn[0]) {
        printf("AITBC_TEST_PG_DSN not set: the PostgreSQL part is skipped\n");
        return rc;
    }
    const struct CMUnitTest pg[] = {
        cmocka_unit_test(test_leader_takeover_after_kill),
        cmocka_unit_test(test_events_cross_hosts),
    };
    return rc | cmocka_run_group_tests_name("cluster_pg", pg, pg_setup, pg_teardown);
}
