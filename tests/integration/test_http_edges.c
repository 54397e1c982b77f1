/* Protocol edges of the HTTP listener, over raw sockets where libcurl would not send the request:
 * framing two parsers could read differently (conflicting Content-Length, Transfer-Encoding other
 * than plain chunked) and undecodable query parameters get a JSON 400 at once; a number that is
 * not a finite double or a repeated member name is a 400 naming the field; a too-large body sent
 * without Expect: 100-continue gets a 413 the client can read; and the answers libmicrohttpd
 * still writes itself (docs/api.md lists them) keep the host serving and are counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define PLUGINS                                                                                    \
    "  auth-static: { keys: [ {key: \"key-client\", role: client, address: \"ait1"                 \
    "00000000000000000000000000000000000000cc\"} ] }\n"                                            \
    "  hello: {}\n"
#define HTTP_SECTION "http:\n  listen: \"127.0.0.1:0\"\n  max_body_bytes: 2048\n"
#define POST_HEAD                                                                                  \
    "POST /v1/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: key-client\r\n"                      \
    "Content-Type: application/json\r\n"

static th_host *H;

static int setup(void **state) {
    (void)state;
    H = th_start(PLUGINS, HTTP_SECTION);
    return H ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return th_end(&H);
}

/* One raw request on a fresh connection; the answer (NUL-terminated) in buf. */
static long exchange(const char *request, char *buf, size_t cap) {
    int fd = th_tcp(th_http_port(H));
    assert_true(fd >= 0);
    assert_int_equal(th_send_all(fd, request, strlen(request)), 0);
    long n = th_raw_read(fd, buf, cap, 5000, TH_HTTP_RESPONSE);
    close(fd);
    return n;
}

/* A raw answer is the documented JSON error: status, JSON Content-Type, Request-Id, the code and
 * (when given) the field. */
static void assert_raw_error(const char *answer, int status, const char *code, const char *field) {
    char want[32];
    snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
    if (strncmp(answer, want, strlen(want)) != 0)
        fail_msg("want %d %s, got: %.300s", status, code, answer);
    assert_non_null(strcasestr(answer, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strcasestr(answer, "\r\nRequest-Id: req_"));
    const char *body = strstr(answer, "\r\n\r\n");
    assert_non_null(body);
    cJSON *j = cJSON_Parse(body + 4);
    assert_non_null(j);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "code")), code);
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "field"));
    if (field) {
        assert_non_null(f);
        assert_string_equal(f, field);
    }
    cJSON_Delete(j);
}

/* The error's field of a libcurl answer ("" when it has none). */
static const char *field_of(const th_resp *r) {
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "field"));
    return f ? f : "";
}

static void assert_healthy(void) {
    th_resp r;
    assert_int_equal(th_req(H, "GET", "/healthz", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
}

static void framing_two_parsers_could_read_differently(void **state) {
    (void)state;
    char buf[4096];
    static const char *const refused[][2] = {
        {POST_HEAD "Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}", "Content-Length"},
        {POST_HEAD "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
         "Transfer-Encoding"},
        {POST_HEAD "Transfer-Encoding: identity\r\nContent-Length: 2\r\n\r\n{}",
         "Transfer-Encoding"},
        {POST_HEAD "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
         "Transfer-Encoding"},
        {POST_HEAD "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "2\r\n{}\r\n0\r\n\r\n",
         "Transfer-Encoding"},
        /* Also on a route that reads no body: the framing is refused before routing. */
        {"GET /v1/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
         "Transfer-Encoding"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        assert_true(exchange(refused[i][0], buf, sizeof buf) > 0);
        assert_raw_error(buf, 400, "invalid_argument", refused[i][1]);
    }
    /* Plain chunked and a repeated equal Content-Length are fine (the name is not valid, which
     * proves the body reached the handler). */
    assert_true(exchange(POST_HEAD "Content-Length: 10\r\nContent-Length: 10\r\n\r\n{\"name\":1}",
                         buf, sizeof buf) > 0);
    assert_raw_error(buf, 400, "invalid_argument", "name");
    assert_true(exchange(POST_HEAD
                         "Transfer-Encoding: Chunked\r\n\r\na\r\n{\"name\":1}\r\n0\r\n\r\n",
                         buf, sizeof buf) > 0);
    assert_raw_error(buf, 400, "invalid_argument", "name");
    assert_healthy();
}

static void query_parameter_that_does_not_decode(void **state) {
    (void)state;
    th_resp r;
    static const char *const paths[][2] = {
        {"/v1/hello?name=a%00b", "name"}, {"/v1/hello?x=1&limit=%zz", "limit"},
        {"/v1/hello?limit=5%", "limit"},  {"/v1/hello?name=%ff%fe", "name"},
        {"/v1/hello?%c0%af=1", "%c0%af"},
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        assert_int_equal(th_req(H, "GET", paths[i][0], NULL, NULL, &r), 0);
        if (r.status != 400) fail_msg("%s: got %ld %s", paths[i][0], r.status, r.body);
        assert_string_equal(th_error_code(&r), "invalid_argument");
        assert_string_equal(field_of(&r), paths[i][1]);
        th_resp_free(&r);
    }
    assert_int_equal(th_req(H, "GET", "/v1/hello?name=a%20b", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
}

static void unrepresentable_number_names_its_field(void **state) {
    (void)state;
    static const char *const bodies[][2] = {
        {"{\"name\":1e999}", "name"},
        {"{\"name\":\"x\",\"deep\":{\"list\":[1,-1e400]}}", "deep.list[1]"},
        {"{\"name\":\"x\",\"name\":\"y\"}", "name"},
        {"{\"a\":[{\"k\":1,\"k\":2}]}", "a[0].k"},
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        th_resp r;
        assert_int_equal(th_req(H, "POST", "/v1/hello", "key-client", bodies[i][0], &r), 0);
        if (r.status != 400) fail_msg("%s: got %ld %s", bodies[i][0], r.status, r.body);
        assert_string_equal(th_error_code(&r), "invalid_json");
        assert_string_equal(field_of(&r), bodies[i][1]);
        th_resp_free(&r);
    }
}

/* A client that writes its whole too-large body before reading (no Expect: 100-continue), as
 * Python's and Node's HTTP clients do: every byte is taken and the 413 is there to read. */
static void too_large_without_expect_is_readable(void **state) {
    (void)state;
    const size_t n = (size_t)12 * 1024 * 1024;
    char head[512];
    int hl = snprintf(head, sizeof head, POST_HEAD "Content-Length: %zu\r\n\r\n", n);
    char *req = malloc((size_t)hl + n);
    assert_non_null(req);
    memcpy(req, head, (size_t)hl);
    memset(req + hl, ' ', n);
    int fd = th_tcp(th_http_port(H));
    assert_true(fd >= 0);
    if (th_send_all(fd, req, (size_t)hl + n) != 0)
        fail_msg("the host closed the connection while the body was being sent");
    free(req);
    char buf[2048];
    assert_true(th_raw_read(fd, buf, sizeof buf, 10000, TH_HTTP_RESPONSE) > 0);
    assert_raw_error(buf, 413, "payload_too_large", NULL);
    /* The body was read to its end, so the connection is still good for the next request. */
    static const char next[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(th_send_all(fd, next, sizeof next - 1), 0);
    assert_true(th_raw_read(fd, buf, sizeof buf, 5000, TH_HTTP_RESPONSE) > 0);
    assert_true(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    close(fd);
    /* With Expect: 100-continue the client waits: the 413 comes at once, no body is read. */
    char ask[512];
    snprintf(ask, sizeof ask, POST_HEAD "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n", n);
    assert_true(exchange(ask, buf, sizeof buf) > 0);
    assert_raw_error(buf, 413, "payload_too_large", NULL);
}

/* The head a user of the API may send (docs/api.md promises 8 KiB of request line and headers
 * together): a 4 KiB query, a long User-Agent, cookies, an Idempotency-Key, the usual Accept
 * lines, padded to exactly 8 192 bytes. It reaches the route, keep-alive and all. */
static void head_of_8_kib_is_served(void **state) {
    (void)state;
    char headers[4096], cookies[2048] = "", ua[600] = "";
    for (int i = 0; i < 24; i++)
        snprintf(cookies + strlen(cookies), sizeof cookies - strlen(cookies), "%sc%d=%060d",
                 i ? "; " : "", i, i);
    for (int i = 0; i < 40; i++)
        snprintf(ua + strlen(ua), sizeof ua - strlen(ua), "Mozilla/5.0 ");
    snprintf(headers, sizeof headers,
             "Host: 127.0.0.1\r\nX-Api-Key: key-client\r\nUser-Agent: %s\r\nCookie: %s\r\n"
             "Idempotency-Key: %064d\r\nAccept: application/json\r\n"
             "Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n",
             ua, cookies, 7);
    static const char line[] = "GET /v1/hello?pad= HTTP/1.1\r\n";
    size_t pad = 8192 - strlen(headers) - (sizeof line - 1);
    assert_true(pad >= 4096);
    char *req = malloc(8193);
    assert_non_null(req);
    snprintf(req, 8193, "GET /v1/hello?pad=%0*d HTTP/1.1\r\n%s", (int)pad, 0, headers);
    assert_int_equal(strlen(req), 8192);
    char buf[4096];
    int fd = th_tcp(th_http_port(H));
    assert_true(fd >= 0);
    for (int i = 0; i < 2; i++) { /* twice: the pool is reset between requests */
        assert_int_equal(th_send_all(fd, req, 8192), 0);
        assert_true(th_raw_read(fd, buf, sizeof buf, 5000, TH_HTTP_RESPONSE) > 0);
        if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0) fail_msg("got: %.300s", buf);
    }
    close(fd);
    free(req);
}

static int library_answers_counted(void *arg) {
    (void)arg;
    th_resp r;
    if (th_req(H, "GET", "/metrics", NULL, NULL, &r) != 0) return 0;
    int ok = r.status == 200 && r.body &&
             strstr(r.body, "route=\"unmatched\",method=\"OTHER\",status=\"431\"} 1") &&
             strstr(r.body, "route=\"unmatched\",method=\"OTHER\",status=\"413\"} 1");
    th_resp_free(&r);
    return ok;
}

/* Answers libmicrohttpd 0.9.75 writes itself, before any callback of ours runs and with its own
 * compiled-in HTML text (docs/api.md, "Answers the HTTP library gives itself"): the statuses
 * stay as documented and the host goes on serving. */
static void library_answers_keep_the_host_serving(void **state) {
    (void)state;
    static const char *const want[] = {"414", "431", "505", "400", "413", "400"};
    size_t big = 20000;
    char *long_uri = malloc(big + 128), *long_header = malloc(big + 128);
    assert_non_null(long_uri);
    assert_non_null(long_header);
    snprintf(long_uri, big + 128, "GET /v1/hello?x=%0*d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
             (int)big, 0);
    snprintf(long_header, big + 128,
             "GET /v1/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: %0*d\r\n\r\n", (int)big, 0);
    const char *reqs[] = {
        long_uri,
        long_header,
        "GET /v1/hello HTTP/2.5\r\nHost: 127.0.0.1\r\n\r\n",
        POST_HEAD "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        POST_HEAD "Content-Length: 99999999999999999999999\r\n\r\n",
        POST_HEAD "Content-Length: abc\r\n\r\n",
    };
    char buf[65536];
    for (size_t i = 0; i < sizeof reqs / sizeof *reqs; i++) {
        assert_true(exchange(reqs[i], buf, sizeof buf) > 0);
        if (strncmp(buf + 9, want[i], 3) != 0) fail_msg("want %s, got: %.200s", want[i], buf);
        assert_healthy();
    }
    free(long_uri);
    free(long_header);
    /* Those that came after a request line are in /metrics (and the access log) like ours. */
    assert_true(th_wait_until(library_answers_counted, NULL, 5000));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(framing_two_parsers_could_read_differently),
        cmocka_unit_test(query_parameter_that_does_not_decode),
        cmocka_unit_test(unrepresentable_number_names_its_field),
        cmocka_unit_test(too_large_without_expect_is_readable),
        cmocka_unit_test(head_of_8_kib_is_served),
        cmocka_unit_test(library_answers_keep_the_host_serving),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
