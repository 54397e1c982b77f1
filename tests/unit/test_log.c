/* Host log lines (host/log.c): text lines cannot be forged by control characters, and with
 * node.log_format: json every line is one JSON object with ts, level, plugin, msg and, while a
 * request is served, request_id, even when the message holds quotes, newlines or bytes that are
 * not UTF-8. stderr is redirected to a file for each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

static char g_path[] = "/tmp/aitbc-test-log-XXXXXX";
static int g_saved = -1;

/* Everything logged since capture() began, as a string (caller frees). */
static char *captured(void) {
    hlog_flush();
    FILE *f = fopen(g_path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int capture(void **state) {
    int fd = mkstemp(g_path);
    if (fd < 0) return -1;
    g_saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    return 0;
}

static int release(void **state) {
    hlog_flush();
    dup2(g_saved, STDERR_FILENO);
    close(g_saved);
    unlink(g_path);
    snprintf(g_path, sizeof g_path, "/tmp/aitbc-test-log-XXXXXX");
    hlog_set_json(0);
    hlog_set_request_id(NULL);
    return 0;
}

/* Line i (0-based) of text parsed as JSON; fails unless it is an object. */
static cJSON *json_line(const char *text, int i) {
    const char *p = text;
    while (i-- > 0 && p)
        p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
    assert_non_null(p);
    const char *end = strchr(p, '\n');
    assert_non_null(end);
    cJSON *o = cJSON_ParseWithLength(p, (size_t)(end - p));
    if (!cJSON_IsObject(o)) fail_msg("not a JSON object: %.*s", (int)(end - p), p);
    return o;
}

static const char *str(const cJSON *o, const char *key) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void test_text_lines(void **state) {
    hlog("chain", AITBC_LOG_WARN, "two\nlines \"quoted\"");
    char *out = captured();
    /* One line: the newline became a space, so it cannot start a forged line. */
    assert_non_null(strstr(out, " WARN [chain] two lines \"quoted\"\n"));
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1);
    assert_int_equal(out[4], '-'); /* starts with the RFC 3339 time */
    free(out);
}

static void test_json_lines(void **state) {
    hlog_set_json(1);
    hlog(NULL, AITBC_LOG_ERROR, "host \"says\"\nback\\slash\ttab \x01");
    hlog_set_request_id("req_abc123");
    hlog("client", AITBC_LOG_INFO, "job %s queued", "job_1");
    hlog_buffered("http", AITBC_LOG_INFO, "GET /v1/jobs 200");
    hlog_set_request_id(NULL);
    hlog("client", AITBC_LOG_DEBUG, "not written at info");
    hlog("x", AITBC_LOG_WARN, "bad utf-8: \xff\xfe end, good: caf\xc3\xa9");
    char *out = captured();

    cJSON *o = json_line(out, 0);
    assert_string_equal(str(o, "level"), "error");
    assert_string_equal(str(o, "plugin"), "host");
    assert_string_equal(str(o, "msg"), "host \"says\"\nback\\slash\ttab \x01");
    assert_null(cJSON_GetObjectItem(o, "request_id"));
    const char *ts = str(o, "ts");
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24); /* 2026-01-02T03:04:05.678Z */
    assert_int_equal(ts[23], 'Z');
    cJSON_Delete(o);

    o = json_line(out, 1);
    assert_string_equal(str(o, "level"), "info");
    assert_string_equal(str(o, "plugin"), "client");
    assert_string_equal(str(o, "msg"), "job job_1 queued");
    assert_string_equal(str(o, "request_id"), "req_abc123");
    cJSON_Delete(o);

    o = json_line(out, 2);
    assert_string_equal(str(o, "plugin"), "http");
    assert_string_equal(str(o, "request_id"), "req_abc123");
    cJSON_Delete(o);

    /* Not UTF-8: the line is still JSON, with the stray bytes replaced. */
    o = json_line(out, 3);
    assert_string_equal(str(o, "level"), "warn");
    assert_string_equal(str(o, "msg"), "bad utf-8: ?? end, good: caf??");
    cJSON_Delete(o);
    assert_null(strstr(out, "not written"));
    free(out);
}

static void test_json_long_message(void **state) {
    hlog_set_json(1);
    char *big = malloc(100001);
    memset(big, '"', 100000);
    big[100000] = '\0';
    hlog("big", AITBC_LOG_INFO, "%s", big);
    char *out = captured();
    cJSON *o = json_line(out, 0);
    assert_string_equal(str(o, "msg"), big);
    cJSON_Delete(o);
    free(out);
    free(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_lines, capture, release),
        cmocka_unit_test_setup_teardown(test_json_lines, capture, release),
        cmocka_unit_test_setup_teardown(test_json_long_message, capture, release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
