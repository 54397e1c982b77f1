/* Integration tests of auth-apikey: the real aitbc-host with this plugin (and hello for a public
 * route) over real HTTP on 127.0.0.1, a real SQLite file in a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "harness.h"
#include "keyfmt.h"

#define PLUGINS_BASE "  auth-apikey: { failed_auth: { per_minute: 1000 } }\n"

typedef struct fixture {
    th_host *h;
    th_host *old; /* the stopped first host after the restart test (same data dir) */
    char admin[AITBC_API_KEY_MAX];
} fixture;

/* ---- small helpers ---- */

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}

static void read_admin_key(th_host *h, char out[AITBC_API_KEY_MAX]) {
    char path[1024];
    snprintf(path, sizeof path, "%s/admin.key", th_data_dir(h));
    char *text = read_file(path, NULL);
    assert_non_null(text);
    text[strcspn(text, "\r\n")] = '\0';
    assert_true(strlen(text) < AITBC_API_KEY_MAX);
    strcpy(out, text);
    free(text);
}

static long req(th_host *h, const char *method, const char *path, const char *key, const char *body,
                th_resp *r) {
    memset(r, 0, sizeof *r);
    assert_int_equal(th_req(h, method, path, key, body, r), 0);
    return r->status;
}

static long status_of(th_host *h, const char *method, const char *path, const char *key,
                      const char *body) {
    th_resp r;
    long s = req(h, method, path, key, body, &r);
    th_resp_free(&r);
    return s;
}

static const char *jstr(const cJSON *o, const char *name) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* Create a key through the admin API; returns the key text (and id/address if asked). */
static void create_key(fixture *f, const char *role, const char *label, char key[AITBC_API_KEY_MAX],
                       char key_id[48], char address[48]) {
    char body[512];
    snprintf(body, sizeof body, "{\"role\":\"%s\",\"label\":\"%s\"}", role, label);
    th_resp r;
    assert_int_equal(req(f->h, "POST", "/v1/admin/keys", f->admin, body, &r), 201);
    assert_non_null(r.json);
    strcpy(key, jstr(r.json, "api_key"));
    if (key_id) strcpy(key_id, jstr(r.json, "key_id"));
    if (address) strcpy(address, jstr(r.json, "address"));
    th_resp_free(&r);
}

/* A miner key, as the miner plugin would make it through create_key: written straight into the
 * database with the deployment's pepper (the admin API refuses role miner by design). */
static void insert_miner_key(th_host *h, char key[AITBC_API_KEY_MAX]) {
    char path[1024];
    snprintf(path, sizeof path, "%s/auth.pepper", th_data_dir(h));
    size_t plen = 0;
    char *pepper = read_file(path, &plen);
    assert_non_null(pepper);
    while (plen && (pepper[plen - 1] == '\n'))
        plen--;
    unsigned char pk[KEYFMT_PEPPER_BYTES], secret[KEYFMT_SECRET_BYTES], hash[KEYFMT_HASH_BYTES];
    keyfmt_pepper_key(pepper, plen, pk);
    free(pepper);
    randombytes_buf(secret, sizeof secret);
    const char *id = "key_minertestaaaaaaaaaaaaaaaa";
    assert_int_equal(keyfmt_format(AITBC_ROLE_MINER, id, secret, key), 0);
    keyfmt_hash(pk, key, hash);
    snprintf(path, sizeof path, "%s/aitbc.db", th_data_dir(h));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *s;
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "INSERT INTO auth_keys (key_id, role, owner_address, label,"
                           " key_hash, created_at) VALUES (?, 'miner', ?, 'rig', ?, 1)",
                           -1, &s, NULL),
        SQLITE_OK);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, "ait1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, hash, sizeof hash, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->h = th_start(PLUGINS_BASE "  hello: {}\n", NULL);
    if (!f->h) {
        free(f);
        return -1;
    }
    read_admin_key(f->h, f->admin);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    int rc = 0;
    if (f) {
        /* A clean exit also means no sanitizer report from the host. */
        if (th_stop(f->h) != 0) {
            fprintf(stderr, "aitbc-host did not exit cleanly\n");
            rc = -1;
        }
        th_free(f->h);
        th_free(f->old); /* already stopped; its dir went with f->h */
        free(f);
    }
    return rc;
}

/* ---- tests ---- */

static void test_bootstrap_file(void **state) {
    fixture *f = *state;
    char path[1024];
    snprintf(path, sizeof path, "%s/admin.key", th_data_dir(f->h));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_true(strncmp(f->admin, "aitbc_admin_key_", 16) == 0);
    snprintf(path, sizeof path, "%s/auth.pepper", th_data_dir(f->h));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* stderr is a file here, not a terminal: the log names the file, never the key. */
    char *err = th_stderr(f->h);
    assert_non_null(err);
    assert_null(strstr(err, f->admin));
    assert_null(strstr(err, strrchr(f->admin, '_') + 1));
    assert_non_null(strstr(err, "admin.key"));
    free(err);
}

static void test_unauthenticated(void **state) {
    fixture *f = *state;
    th_resp r;
    assert_int_equal(req(f->h, "GET", "/v1/account", NULL, NULL, &r), 401);
    assert_string_equal(th_error_code(&r), "unauthenticated");
    th_resp_free(&r);
    /* Well-formed but unknown: random id and secret. */
    char unknown[AITBC_API_KEY_MAX];
    unsigned char secret[KEYFMT_SECRET_BYTES];
    randombytes_buf(secret, sizeof secret);
    assert_int_equal(
        keyfmt_format(AITBC_ROLE_CLIENT, "key_unknownunknownunknownunkn", secret, unknown), 0);
    assert_int_equal(req(f->h, "GET", "/v1/account", unknown, NULL, &r), 401);
    assert_string_equal(th_error_code(&r), "unauthenticated");
    th_resp_free(&r);
    /* Malformed keys of every kind. */
    const char *bad[] = {"x", "aitbc_admin_", "aitbc_root_key_a_00", "Bearer abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(status_of(f->h, "GET", "/v1/account", bad[i], NULL), 401);
    /* The admin key with one secret character changed (and with the role changed). */
    char wrong[AITBC_API_KEY_MAX];
    strcpy(wrong, f->admin);
    char *last = &wrong[strlen(wrong) - 1];
    *last = *last == '0' ? '1' : '0';
    assert_int_equal(status_of(f->h, "GET", "/v1/account", wrong, NULL), 401);
    strcpy(wrong, f->admin);
    memcpy(wrong + 6, "miner", 5); /* "admin" → "miner": same length, role bound into the hash */
    assert_int_equal(status_of(f->h, "GET", "/v1/account", wrong, NULL), 401);
    /* A public route needs no key at all. */
    assert_int_equal(status_of(f->h, "GET", "/healthz", NULL, NULL), 200);
}

static void test_account_and_roles(void **state) {
    fixture *f = *state;
    if (th_on_postgres()) skip(); /* inserts a key into the SQLite file itself */
    char key[AITBC_API_KEY_MAX], key_id[48], address[48];
    create_key(f, "client", "alice", key, key_id, address);
    assert_true(strncmp(key, "aitbc_client_key_", 17) == 0);
    assert_int_equal(strlen(address), 44);
    assert_true(strncmp(address, "ait1", 4) == 0);

    th_resp r;
    assert_int_equal(req(f->h, "GET", "/v1/account", key, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "key_id"), key_id);
    assert_string_equal(jstr(r.json, "role"), "client");
    assert_string_equal(jstr(r.json, "address"), address);
    assert_string_equal(jstr(r.json, "label"), "alice");
    assert_null(strstr(r.body, strrchr(key, '_') + 1)); /* never the secret again */
    th_resp_free(&r);

    /* Admin-only routes refuse client and miner keys with 403. */
    char miner[AITBC_API_KEY_MAX];
    insert_miner_key(f->h, miner);
    assert_int_equal(req(f->h, "GET", "/v1/account", miner, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "role"), "miner");
    th_resp_free(&r);
    const char *keys[] = {key, miner};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(req(f->h, "GET", "/v1/admin/keys", keys[i], NULL, &r), 403);
        assert_string_equal(th_error_code(&r), "forbidden");
        th_resp_free(&r);
        assert_int_equal(status_of(f->h, "POST", "/v1/admin/keys", keys[i],
                                   "{\"role\":\"admin\",\"label\":\"x\"}"),
                         403);
        char path[128];
        snprintf(path, sizeof path, "/v1/admin/keys/%s", key_id);
        assert_int_equal(status_of(f->h, "DELETE", path, keys[i], NULL), 403);
    }
    /* A second admin works on admin routes. */
    char admin2[AITBC_API_KEY_MAX];
    create_key(f, "admin", "ops", admin2, NULL, NULL);
    assert_int_equal(status_of(f->h, "GET", "/v1/admin/keys", admin2, NULL), 200);
}

static void test_shown_once(void **state) {
    fixture *f = *state;
    char key[AITBC_API_KEY_MAX], key_id[48];
    create_key(f, "client", "once", key, key_id, NULL);
    const char *secret = strrchr(key, '_') + 1;
    th_resp r;
    assert_int_equal(req(f->h, "GET", "/v1/admin/keys?limit=500", f->admin, NULL, &r), 200);
    assert_null(strstr(r.body, secret));
    assert_null(strstr(r.body, "api_key"));
    assert_null(strstr(r.body, "hash"));
    assert_non_null(strstr(r.body, key_id));
    /* Every item has exactly the documented fields. */
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items")) {
        assert_non_null(jstr(it, "key_id"));
        assert_non_null(jstr(it, "role"));
        assert_non_null(cJSON_GetObjectItemCaseSensitive(it, "label"));
        assert_non_null(cJSON_GetObjectItemCaseSensitive(it, "address"));
        assert_non_null(jstr(it, "created_at"));
        assert_non_null(cJSON_GetObjectItemCaseSensitive(it, "last_used_at"));
        assert_true(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(it, "revoked")));
    }
    th_resp_free(&r);
}

static void test_revoke(void **state) {
    fixture *f = *state;
    char key[AITBC_API_KEY_MAX], key_id[48], path[128];
    create_key(f, "client", "short-lived", key, key_id, NULL);
    assert_int_equal(status_of(f->h, "GET", "/v1/account", key, NULL), 200); /* now cached */
    snprintf(path, sizeof path, "/v1/admin/keys/%s", key_id);
    th_resp r;
    assert_int_equal(req(f->h, "DELETE", path, f->admin, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "key_id"), key_id);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.json, "revoked")));
    th_resp_free(&r);
    /* The very next request fails. */
    assert_int_equal(req(f->h, "GET", "/v1/account", key, NULL, &r), 401);
    assert_string_equal(th_error_code(&r), "unauthenticated");
    th_resp_free(&r);
    /* Revoking again is harmless; unknown and malformed ids are 404. */
    assert_int_equal(status_of(f->h, "DELETE", path, f->admin, NULL), 200);
    assert_int_equal(
        status_of(f->h, "DELETE", "/v1/admin/keys/key_nosuchkeyaaaaaaaaaaaaaaaaa", f->admin, NULL),
        404);
    assert_int_equal(status_of(f->h, "DELETE", "/v1/admin/keys/..%2F..", f->admin, NULL), 404);
    /* The list shows it revoked. */
    char list_path[256];
    snprintf(list_path, sizeof list_path, "/v1/admin/keys?limit=500");
    assert_int_equal(req(f->h, "GET", list_path, f->admin, NULL, &r), 200);
    int seen = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items")) {
        if (strcmp(jstr(it, "key_id"), key_id) == 0) {
            seen = 1;
            assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "revoked")));
        }
    }
    assert_true(seen);
    th_resp_free(&r);
}

static void expect_400(fixture *f, const char *body, const char *field) {
    th_resp r;
    assert_int_equal(req(f->h, "POST", "/v1/admin/keys", f->admin, body, &r), 400);
    assert_non_null(th_error_code(&r));
    if (field) {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(r.json, "error");
        const char *got = jstr(err, "field");
        if (!got || strcmp(got, field) != 0)
            fail_msg("body %s: field %s expected, got %s", body, field, got ? got : "(none)");
    }
    th_resp_free(&r);
}

static void test_create_validation(void **state) {
    fixture *f = *state;
    expect_400(f, "{\"role\":\"client\",\"label\":\"a\",\"extra\":1}", "extra");
    expect_400(f, "{\"role\":\"miner\",\"label\":\"a\"}", "role");
    expect_400(f, "{\"role\":\"client\",\"label\":\"\"}", "label"); /* required: not empty */
    expect_400(f, "{\"role\":\"root\",\"label\":\"a\"}", "role");
    expect_400(f, "{\"role\":1,\"label\":\"a\"}", "role");
    expect_400(f, "{\"label\":\"a\"}", "role");
    expect_400(f, "{\"role\":\"client\"}", "label");
    expect_400(f, "{\"role\":\"client\",\"label\":7}", "label");
    expect_400(f, "{\"role\":\"client\",\"label\":\"a\\u0001b\"}", "label");
    char body[512];
    char long_label[130];
    memset(long_label, 'x', 129);
    long_label[129] = '\0';
    snprintf(body, sizeof body, "{\"role\":\"client\",\"label\":\"%s\"}", long_label);
    expect_400(f, body, "label");
    long_label[128] = '\0'; /* exactly 128 is fine */
    snprintf(body, sizeof body, "{\"role\":\"client\",\"label\":\"%s\"}", long_label);
    assert_int_equal(status_of(f->h, "POST", "/v1/admin/keys", f->admin, body), 201);
    /* Characters, not bytes: 128 two-byte characters are fine, 129 are not. */
    char utf8[2 * 129 + 1] = "";
    for (int i = 0; i < 128; i++)
        strcat(utf8, "\xc3\xa9");
    char ubody[600];
    snprintf(ubody, sizeof ubody, "{\"role\":\"client\",\"label\":\"%s\"}", utf8);
    assert_int_equal(status_of(f->h, "POST", "/v1/admin/keys", f->admin, ubody), 201);
    strcat(utf8, "\xc3\xa9");
    snprintf(ubody, sizeof ubody, "{\"role\":\"client\",\"label\":\"%s\"}", utf8);
    expect_400(f, ubody, "label");
    expect_400(f, "{\"role\":\"client\",\"label\":\"a\",\"address\":\"ait1xyz\"}", "address");
    expect_400(f, "{\"role\":\"client\",\"label\":\"a\",\"address\":5}", "address");
    expect_400(f, "[]", NULL);
    expect_400(f, "\"client\"", NULL);
    assert_int_equal(status_of(f->h, "POST", "/v1/admin/keys", f->admin, "{bad json"), 400);

    /* Rotation: a further key for an existing address. */
    char key[AITBC_API_KEY_MAX], address[48];
    create_key(f, "client", "first", key, NULL, address);
    snprintf(body, sizeof body, "{\"role\":\"client\",\"label\":\"second\",\"address\":\"%s\"}",
             address);
    th_resp r;
    assert_int_equal(req(f->h, "POST", "/v1/admin/keys", f->admin, body, &r), 201);
    assert_string_equal(jstr(r.json, "address"), address);
    char key2[AITBC_API_KEY_MAX];
    strcpy(key2, jstr(r.json, "api_key"));
    th_resp_free(&r);
    assert_int_equal(req(f->h, "GET", "/v1/account", key2, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "address"), address);
    th_resp_free(&r);
}

static void test_list_pagination(void **state) {
    fixture *f = *state;
    char key[AITBC_API_KEY_MAX];
    for (int i = 0; i < 5; i++)
        create_key(f, "client", "page", key, NULL, NULL);
    th_resp r;
    assert_int_equal(req(f->h, "GET", "/v1/admin/keys?limit=500", f->admin, NULL, &r), 200);
    int total = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "items"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.json, "next_cursor")));
    th_resp_free(&r);
    assert_true(total >= 6);

    /* Walk pages of 2: every key once, newest first. */
    char path[600] = "/v1/admin/keys?limit=2";
    char seen[600][48];
    int n = 0;
    char prev_created[64] = "9999";
    for (int page = 0; page < 400; page++) {
        assert_int_equal(req(f->h, "GET", path, f->admin, NULL, &r), 200);
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items")) {
            const char *id = jstr(it, "key_id");
            for (int j = 0; j < n; j++)
                assert_string_not_equal(seen[j], id);
            assert_true(n < 600);
            strcpy(seen[n++], id);
            assert_true(strcmp(jstr(it, "created_at"), prev_created) <= 0);
            strcpy(prev_created, jstr(it, "created_at"));
        }
        const char *next = jstr(r.json, "next_cursor");
        if (!next) {
            th_resp_free(&r);
            break;
        }
        snprintf(path, sizeof path, "/v1/admin/keys?limit=2&cursor=%s", next);
        th_resp_free(&r);
    }
    assert_int_equal(n, total);

    /* A cursor is bound to its filters; bad limits and cursors are 400. */
    assert_int_equal(req(f->h, "GET", "/v1/admin/keys?limit=1", f->admin, NULL, &r), 200);
    char cursor[400];
    strcpy(cursor, jstr(r.json, "next_cursor"));
    th_resp_free(&r);
    snprintf(path, sizeof path, "/v1/admin/keys?limit=1&role=client&cursor=%s", cursor);
    assert_int_equal(status_of(f->h, "GET", path, f->admin, NULL), 400);
    const char *bad[] = {"/v1/admin/keys?limit=0",     "/v1/admin/keys?limit=501",
                         "/v1/admin/keys?limit=-1",    "/v1/admin/keys?limit=abc",
                         "/v1/admin/keys?cursor=zzz",  "/v1/admin/keys?role=root",
                         "/v1/admin/keys?address=nope"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(status_of(f->h, "GET", bad[i], f->admin, NULL), 400);
    /* Filter by role. */
    assert_int_equal(req(f->h, "GET", "/v1/admin/keys?role=admin&limit=500", f->admin, NULL, &r),
                     200);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items"))
        assert_string_equal(jstr(it, "role"), "admin");
    th_resp_free(&r);
}

/* After a clean stop the database file holds hashes only: no secret in any form. */
static void test_hash_only_storage_and_restart(void **state) {
    fixture *f = *state;
    if (th_on_postgres()) skip(); /* reads the SQLite file's bytes itself */
    char keys[3][AITBC_API_KEY_MAX];
    for (int i = 0; i < 3; i++)
        create_key(f, i == 2 ? "admin" : "client", "disk", keys[i], NULL, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(status_of(f->h, "GET", "/v1/account", keys[i], NULL), 200);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", th_data_dir(f->h));
    assert_int_equal(th_stop(f->h), 0);

    const char *files[] = {"aitbc.db", "aitbc.db-wal"};
    for (size_t fi = 0; fi < 2; fi++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, files[fi]);
        size_t len = 0;
        char *bytes = read_file(path, &len);
        if (!bytes) {
            assert_int_equal(fi, 1); /* the WAL may be gone after a clean close */
            continue;
        }
        for (int i = 0; i < 3; i++) {
            const char *secret = strrchr(keys[i], '_') + 1;
            unsigned char raw[KEYFMT_SECRET_BYTES];
            assert_int_equal(
                sodium_hex2bin(raw, sizeof raw, secret, strlen(secret), NULL, NULL, NULL), 0);
            assert_null(memmem(bytes, len, secret, strlen(secret)));
            assert_null(memmem(bytes, len, secret, 16)); /* not even a prefix */
            assert_null(memmem(bytes, len, raw, sizeof raw));
        }
        const char *admin_secret = strrchr(f->admin, '_') + 1;
        assert_null(memmem(bytes, len, admin_secret, strlen(admin_secret)));
        free(bytes);
    }

    /* Restart on the same data: same pepper, keys still valid, no second bootstrap key. */
    char path[1200];
    snprintf(path, sizeof path, "%s/admin.key", dir);
    char *before = read_file(path, NULL);
    th_host *h2 = th_start_in(dir, PLUGINS_BASE "  hello: {}\n", NULL);
    assert_non_null(h2);
    char *after = read_file(path, NULL);
    assert_string_equal(before, after);
    free(before);
    free(after);
    f->old = f->h;
    f->h = h2;
    for (int i = 0; i < 3; i++)
        assert_int_equal(status_of(f->h, "GET", "/v1/account", keys[i], NULL), 200);
    /* last_used_at was flushed at the clean stop. */
    th_resp r;
    assert_int_equal(req(f->h, "GET", "/v1/account", f->admin, NULL, &r), 200);
    assert_non_null(jstr(r.json, "last_used_at"));
    th_resp_free(&r);
}

/* ---- a host with tight limits ---- */

static th_host *g_rl_host;
static const char *g_rl_key;
static int recovered(void *arg) {
    (void)arg;
    return status_of(g_rl_host, "GET", "/v1/account", g_rl_key, NULL) == 200;
}

static void test_rate_limits(void **state) {
    (void)state;
    th_host *h = th_start("  auth-apikey: { rate_limits: { client: { rps: 2, burst: 3 } },"
                          " failed_auth: { per_minute: 5 } }\n",
                          NULL);
    assert_non_null(h);
    fixture f = {.h = h};
    read_admin_key(h, f.admin);
    char key[AITBC_API_KEY_MAX];
    create_key(&f, "client", "busy", key, NULL, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(status_of(h, "GET", "/v1/account", key, NULL), 200);
    th_resp r;
    /* The burst is spent (a slow machine may have refilled one token meanwhile: allow one more). */
    long s = req(h, "GET", "/v1/account", key, NULL, &r);
    if (s == 200) {
        th_resp_free(&r);
        s = req(h, "GET", "/v1/account", key, NULL, &r);
    }
    assert_int_equal(s, 429);
    assert_string_equal(th_error_code(&r), "rate_limited");
    char retry[32];
    assert_non_null(th_resp_header(&r, "Retry-After", retry, sizeof retry));
    assert_true(atoi(retry) >= 1);
    th_resp_free(&r);
    /* The admin key has its own bucket. */
    assert_int_equal(status_of(h, "GET", "/v1/account", f.admin, NULL), 200);
    /* Recovery: at 2/s a token is back within a second. */
    g_rl_host = h;
    g_rl_key = key;
    assert_true(th_wait_until(recovered, NULL, 10000));

    /* Failed attempts per address: 5 per minute, then 429 for any key from that address. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(status_of(h, "GET", "/v1/account", "aitbc_client_key_nope_00", NULL), 401);
    assert_int_equal(req(h, "GET", "/v1/account", "aitbc_client_key_nope_00", NULL, &r), 429);
    assert_non_null(th_resp_header(&r, "Retry-After", retry, sizeof retry));
    assert_true(atoi(retry) >= 1);
    th_resp_free(&r);
    assert_int_equal(status_of(h, "GET", "/v1/account", f.admin, NULL), 429);
    /* A missing key is not a guess: still a plain 401. */
    assert_int_equal(status_of(h, "GET", "/v1/account", NULL, NULL), 401);
    assert_int_equal(th_stop(h), 0);
    th_free(h);
}

/* ---- admin_key_hashes and a configured pepper ---- */

static void test_configured_admin(void **state) {
    (void)state;
    const char *pepper = "integration-test-pepper-0123456789";
    unsigned char pk[KEYFMT_PEPPER_BYTES], secret[KEYFMT_SECRET_BYTES], hash[KEYFMT_HASH_BYTES];
    keyfmt_pepper_key(pepper, strlen(pepper), pk);
    randombytes_buf(secret, sizeof secret);
    char key[AITBC_API_KEY_MAX];
    assert_int_equal(keyfmt_format(AITBC_ROLE_ADMIN, "key_configuredadminaaaaaaaaaa", secret, key),
                     0);
    keyfmt_hash(pk, key, hash);
    char hex[2 * KEYFMT_HASH_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    char yaml[512];
    snprintf(yaml, sizeof yaml, "  auth-apikey: { pepper: \"%s\", admin_key_hashes: [\"%s\"] }\n",
             pepper, hex);
    th_host *h = th_start(yaml, NULL);
    assert_non_null(h);
    char path[1024];
    snprintf(path, sizeof path, "%s/admin.key", th_data_dir(h));
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0); /* configured admins: no bootstrap key */
    th_resp r;
    assert_int_equal(req(h, "GET", "/v1/account", key, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "role"), "admin");
    th_resp_free(&r);
    assert_int_equal(status_of(h, "GET", "/v1/admin/keys", key, NULL), 200);
    /* As a client key the same text is refused (role is part of the hash). */
    char as_client[AITBC_API_KEY_MAX];
    assert_int_equal(
        keyfmt_format(AITBC_ROLE_CLIENT, "key_configuredadminaaaaaaaaaa", secret, as_client), 0);
    assert_int_equal(status_of(h, "GET", "/v1/account", as_client, NULL), 401);
    assert_int_equal(th_stop(h), 0);
    th_free(h);

    /* Bad config is refused at start. */
    assert_null(th_start("  auth-apikey: { pepper: \"short\" }\n", NULL));
    assert_null(th_start("  auth-apikey: { admin_key_hashes: [\"abc\"] }\n", NULL));
    assert_null(th_start("  auth-apikey: { rate_limits: { root: { rps: 1 } } }\n", NULL));
    assert_null(th_start("  auth-apikey: { rate_limits: { client: { rps: -1 } } }\n", NULL));
    assert_null(th_start("  auth-apikey: { failed_auth: { per_minute: \"x\" } }\n", NULL));
}

/* ---- with the chain plugin: accounts come from ledger@1, balances join GET /v1/account ---- */

static void test_with_ledger(void **state) {
    (void)state;
#ifndef AUTH_TEST_WITH_CHAIN
    skip(); /* built without the chain plugin */
#endif
    th_host *h = th_start("  auth-apikey: {}\n  chain: { block_interval_ms: 200 }\n", NULL);
    assert_non_null(h);
    fixture f = {.h = h};
    read_admin_key(h, f.admin);
    char key[AITBC_API_KEY_MAX], address[48];
    create_key(&f, "client", "funded", key, NULL, address);
    th_resp r;
    assert_int_equal(req(h, "GET", "/v1/account", key, NULL, &r), 200);
    const cJSON *bal = cJSON_GetObjectItemCaseSensitive(r.json, "balances");
    const cJSON *locked = cJSON_GetObjectItemCaseSensitive(r.json, "locked");
    assert_string_equal(jstr(bal, "AIT"), "0");
    assert_string_equal(jstr(bal, "BTC"), "0");
    assert_string_equal(jstr(locked, "AIT"), "0");
    th_resp_free(&r);
    /* The account is the ledger's: a mint to it shows up. */
    char body[256];
    snprintf(body, sizeof body, "{\"address\":\"%s\",\"asset\":\"AIT\",\"amount\":\"12.5\"}",
             address);
    long s = req(h, "POST", "/v1/admin/mint", f.admin, body, &r);
    th_resp_free(&r);
    assert_true(s == 200 || s == 201);
    assert_int_equal(req(h, "GET", "/v1/account", key, NULL, &r), 200);
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(r.json, "balances"), "AIT"), "12.5");
    th_resp_free(&r);
    /* A further key needs an address the ledger knows. */
    snprintf(body, sizeof body, "{\"role\":\"client\",\"label\":\"x\",\"address\":\"%s\"}",
             address);
    assert_int_equal(status_of(h, "POST", "/v1/admin/keys", f.admin, body), 201);
    assert_int_equal(req(h, "POST", "/v1/admin/keys", f.admin,
                         "{\"role\":\"client\",\"label\":\"x\",\"address\":"
                         "\"ait1cccccccccccccccccccccccccccccccccccccccc\"}",
                         &r),
                     404);
    assert_string_equal(th_error_code(&r), "not_found");
    th_resp_free(&r);
    assert_int_equal(th_stop(h), 0);
    th_free(h);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_bootstrap_file),
        cmocka_unit_test(test_unauthenticated),
        cmocka_unit_test(test_account_and_roles),
        cmocka_unit_test(test_shown_once),
        cmocka_unit_test(test_revoke),
        cmocka_unit_test(test_create_validation),
        cmocka_unit_test(test_list_pagination),
        cmocka_unit_test(test_hash_only_storage_and_restart),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_configured_admin),
        cmocka_unit_test(test_with_ledger),
    };
    int failed = cmocka_run_group_tests_name("auth-apikey shared host", shared, setup, teardown);
    failed += cmocka_run_group_tests_name("auth-apikey own hosts", own, NULL, NULL);
    return failed ? 1 : 0;
}
