/* compute-ollama engine against the stand-in server (ollama_standin.c: libmicrohttpd in this
 * process, because no model weights exist here): streamed text and token units, progress, the
 * request it sends, and every way the server can fail. Also the NDJSON parser on split input. */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include <aitbc/errors.h>
#include <aitbc/util.h>
#include "../ollama.h"
#include "compute_probe.h"
#include "ollama_standin.h"

static ollama_standin *g_server;
static char g_url[64];

static ollama_config config(void) {
    return (ollama_config){g_url, NULL, 2000, 5000, 30000, 16, 100, 4096, 65536};
}

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_server = ollama_standin_start();
    if (!g_server) return -1;
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", ollama_standin_port(g_server));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ollama_standin_stop(g_server);
    curl_global_cleanup();
    return 0;
}

static int run(const ollama_config *cfg, const char *payload_text, compute_probe *probe,
               aitbc_compute_out *out) {
    cJSON *payload = cJSON_Parse(payload_text);
    assert_non_null(payload);
    memset(out, 0, sizeof *out);
    int rc = ollama_run(cfg, payload, &probe->ctl, out);
    cJSON_Delete(payload);
    const char *broken = compute_probe_violation(rc, out);
    if (broken) fail_msg("compute@1 contract: %s", broken);
    return rc;
}

static void streams_text_and_counts_tokens(void **state) {
    (void)state;
    ollama_config cfg = config();
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(run(&cfg,
                         "{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"count\","
                         "\"max_tokens\":5,\"temperature\":0.5,\"seed\":7,\"stop\":[\"END\"]}",
                         &probe, &out),
                     0);
    assert_string_equal(cJSON_GetObjectItem(out.result, "text")->valuestring, "t0 t1 t2 t3 t4 ");
    assert_int_equal(cJSON_GetObjectItem(out.result, "tokens")->valueint, 5);
    assert_int_equal(out.units, 5);
    assert_string_equal(out.unit_type, "token");
    assert_true(probe.progress_calls >= 1);
    assert_false(probe.went_backwards);
    assert_false(probe.out_of_range);
    assert_true(probe.last_progress > 0.5 && probe.last_progress < 1);
    compute_probe_out_reset(&out);

    /* What went over the wire: streaming on, the budget as num_predict, sampling in options. */
    char *sent = ollama_standin_last_request(g_server);
    cJSON *req = cJSON_Parse(sent);
    free(sent);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(req, "stream")));
    assert_string_equal(cJSON_GetObjectItem(req, "prompt")->valuestring, "count");
    const cJSON *opts = cJSON_GetObjectItem(req, "options");
    assert_int_equal(cJSON_GetObjectItem(opts, "num_predict")->valueint, 5);
    assert_int_equal(cJSON_GetObjectItem(opts, "seed")->valueint, 7);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(opts, "stop"), 0)->valuestring,
                        "END");
    cJSON_Delete(req);
}

static void default_budget_applies(void **state) {
    (void)state;
    ollama_config cfg = config();
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(
        run(&cfg, "{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"p\"}", &probe, &out), 0);
    assert_int_equal(out.units, 16); /* max_tokens_default */
    compute_probe_out_reset(&out);
}

typedef struct bad_case {
    const char *payload;
    const char *code;
    int retryable;
} bad_case;

static void failures_have_clear_codes(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"[]", "invalid_payload", 0},
        {"{\"type\":\"inference\",\"prompt\":\"p\"}", "invalid_payload", 0},
        {"{\"type\":\"inference\",\"model\":\"tiny\"}", "invalid_payload", 0},
        {"{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"\"}", "invalid_payload", 0},
        {"{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"p\",\"max_tokens\":0}",
         "invalid_payload", 0},
        {"{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"p\",\"max_tokens\":101}",
         "invalid_payload", 0},
        {"{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"p\",\"max_tokens\":1.5}",
         "invalid_payload", 0},
        {"{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"p\",\"temperature\":\"hot\"}",
         "invalid_payload", 0},
        {"{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"p\",\"stop\":[1]}",
         "invalid_payload", 0},
        {"{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"p\",\"raw\":true}",
         "invalid_payload", 0},
        {"{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"p\",\"system\":5}",
         "invalid_payload", 0},
        {"{\"type\":\"inference\",\"model\":\"nope\",\"prompt\":\"p\"}", "model_not_found", 0},
        {"{\"type\":\"inference\",\"model\":\"bad\",\"prompt\":\"p\"}", "backend_rejected", 0},
        {"{\"type\":\"inference\",\"model\":\"busy\",\"prompt\":\"p\"}", "backend_error", 1},
        {"{\"type\":\"inference\",\"model\":\"drop\",\"prompt\":\"p\"}", "stream_interrupted", 1},
        {"{\"type\":\"inference\",\"model\":\"error\",\"prompt\":\"p\"}", "backend_error", 1},
        {"{\"type\":\"inference\",\"model\":\"junk\",\"prompt\":\"p\"}", "invalid_response", 1},
    };
    ollama_config cfg = config();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        compute_probe probe;
        compute_probe_init(&probe);
        aitbc_compute_out out;
        int rc = run(&cfg, cases[i].payload, &probe, &out);
        if (rc == 0 || strcmp(compute_probe_code(&out), cases[i].code) != 0 ||
            out.retryable != cases[i].retryable)
            fail_msg("case %s: rc %d code %s retryable %d (%s)", cases[i].payload, rc,
                     rc ? compute_probe_code(&out) : "-", out.retryable,
                     compute_probe_message(&out));
        compute_probe_out_reset(&out);
    }
}

static void server_messages_reach_the_error(void **state) {
    (void)state;
    ollama_config cfg = config();
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    run(&cfg, "{\"type\":\"inference\",\"model\":\"error\",\"prompt\":\"p\"}", &probe, &out);
    assert_non_null(strstr(compute_probe_message(&out), "the model crashed"));
    compute_probe_out_reset(&out);
    run(&cfg, "{\"type\":\"inference\",\"model\":\"missing\",\"prompt\":\"p\"}", &probe, &out);
    assert_non_null(strstr(compute_probe_message(&out), "model 'missing' not found"));
    compute_probe_out_reset(&out);
}

static void limits_refuse_large_prompts_and_outputs(void **state) {
    (void)state;
    ollama_config cfg = config();
    cfg.max_prompt_bytes = 8;
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(run(&cfg,
                         "{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"123456789\"}",
                         &probe, &out),
                     AITBC_EINVAL);
    assert_string_equal(compute_probe_code(&out), "prompt_too_large");
    compute_probe_out_reset(&out);
    cfg = config();
    cfg.max_output_bytes = 10; /* "t0 t1 t2 t3 " is 12 */
    assert_int_not_equal(run(&cfg,
                             "{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"p\","
                             "\"max_tokens\":8}",
                             &probe, &out),
                         0);
    assert_string_equal(compute_probe_code(&out), "output_too_large");
    compute_probe_out_reset(&out);
}

static void model_allow_list_is_enforced(void **state) {
    (void)state;
    ollama_config cfg = config();
    cJSON *allowed = cJSON_Parse("[\"slow\"]");
    cfg.models = allowed;
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(
        run(&cfg, "{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"p\"}", &probe, &out),
        AITBC_EINVAL);
    assert_string_equal(compute_probe_code(&out), "model_not_found");
    compute_probe_out_reset(&out);
    cJSON *models = ollama_models(&cfg);
    char *text = cJSON_PrintUnformatted(models);
    assert_string_equal(text, "[\"slow\"]");
    free(text);
    cJSON_Delete(models);
    cJSON_Delete(allowed);

    cfg = config();
    models = ollama_models(&cfg);
    text = cJSON_PrintUnformatted(models);
    assert_string_equal(text, "[\"tiny\",\"slow\",\"drop\"]");
    free(text);
    cJSON_Delete(models);
}

static int no_open_streams(void *arg) {
    (void)arg;
    return ollama_standin_open_streams(g_server) == 0;
}

static void stop_and_deadline_end_a_stream(void **state) {
    (void)state;
    ollama_config cfg = config();
    compute_probe probe;
    compute_probe_init(&probe);
    probe.stop_at_progress = 3.0 / 100; /* after the third token of max_tokens 100 */
    aitbc_compute_out out;
    assert_int_equal(run(&cfg,
                         "{\"type\":\"inference\",\"model\":\"slow\",\"prompt\":\"p\","
                         "\"max_tokens\":100}",
                         &probe, &out),
                     AITBC_EUNAVAIL);
    assert_string_equal(compute_probe_code(&out), "stopped");
    assert_true(out.retryable);
    compute_probe_out_reset(&out);

    compute_probe_init(&probe);
    probe.ctl.deadline_ms = aitbc_now_ms() + 400;
    int64_t t0 = aitbc_now_ms();
    assert_int_equal(
        run(&cfg, "{\"type\":\"inference\",\"model\":\"slow\",\"prompt\":\"p\"}", &probe, &out),
        AITBC_EUNAVAIL);
    assert_true(aitbc_now_ms() - t0 < 5000);
    assert_string_equal(compute_probe_code(&out), "timeout");
    compute_probe_out_reset(&out);
    /* The server sees the client go away: nothing keeps generating for a dead job. */
    int64_t until = aitbc_now_ms() + 5000;
    while (!no_open_streams(NULL) && aitbc_now_ms() < until)
        usleep(20000);
    assert_true(no_open_streams(NULL));
}

static void unreachable_server_is_retryable(void **state) {
    (void)state;
    /* A port that was just free: bind, read it back, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    ollama_config cfg = config();
    cfg.url = url;
    compute_probe probe;
    compute_probe_init(&probe);
    aitbc_compute_out out;
    assert_int_equal(
        run(&cfg, "{\"type\":\"inference\",\"model\":\"tiny\",\"prompt\":\"p\"}", &probe, &out),
        AITBC_EUNAVAIL);
    assert_string_equal(compute_probe_code(&out), "backend_unavailable");
    assert_true(out.retryable);
    assert_non_null(strstr(compute_probe_message(&out), url));
    compute_probe_out_reset(&out);
    assert_null(ollama_models(&cfg));
}

static void parser_takes_lines_split_anywhere(void **state) {
    (void)state;
    const char *text = "{\"response\":\"Hel\",\"done\":false}\n\n"
                       "{\"response\":\"lo \\u00e9\",\"done\":false}\r\n"
                       "{\"response\":\"\",\"done\":true,\"eval_count\":2}";
    size_t n = strlen(text);
    for (size_t step = 1; step <= n; step++) {
        ollama_stream s;
        ollama_stream_init(&s, 100);
        ollama_feed r = OLLAMA_MORE;
        for (size_t i = 0; i < n && r == OLLAMA_MORE; i += step)
            r = ollama_stream_feed(&s, text + i, i + step > n ? n - i : step);
        if (r == OLLAMA_MORE) r = ollama_stream_finish(&s);
        assert_int_equal(r, OLLAMA_DONE);
        assert_string_equal(s.text, "Hello \xc3\xa9");
        assert_int_equal(s.eval_count, 2);
        assert_int_equal(s.chunks, 2);
        ollama_stream_free(&s);
    }
    static const struct {
        const char *line;
        ollama_feed want;
    } bad[] = {
        {"{\"response\":\"x\"}\n", OLLAMA_BAD_LINE},
        {"{\"response\":5,\"done\":false}\n", OLLAMA_BAD_LINE},
        {"[1]\n", OLLAMA_BAD_LINE},
        {"{\"response\":\"\xff\",\"done\":false}\n", OLLAMA_BAD_LINE},
        {"{\"error\":\"boom\"}\n", OLLAMA_SERVER_ERROR},
        {"{\"response\":\"0123456789ABCDEF\",\"done\":false}\n", OLLAMA_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ollama_stream s;
        ollama_stream_init(&s, 8);
        assert_int_equal(ollama_stream_feed(&s, bad[i].line, strlen(bad[i].line)), bad[i].want);
        assert_true(s.error[0] != '\0');
        ollama_stream_free(&s);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(streams_text_and_counts_tokens),
        cmocka_unit_test(default_budget_applies),
        cmocka_unit_test(failures_have_clear_codes),
        cmocka_unit_test(server_messages_reach_the_error),
        cmocka_unit_test(limits_refuse_large_prompts_and_outputs),
        cmocka_unit_test(model_allow_list_is_enforced),
        cmocka_unit_test(stop_and_deadline_end_a_stream),
        cmocka_unit_test(unreachable_server_is_retryable),
        cmocka_unit_test(parser_takes_lines_split_anywhere),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
