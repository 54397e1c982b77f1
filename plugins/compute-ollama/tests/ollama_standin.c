/* See ollama_standin.h. A test stand-in for an outside service, not a piece of AITBC. */
#include "ollama_standin.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

struct ollama_standin {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t lock;
    char *last_request;
    atomic_int open_streams;
};

typedef struct upload {
    char *body;
    size_t len;
} upload;

typedef struct stream {
    ollama_standin *s;
    char model[64];
    int tokens; /* to send */
    int sent;
    int phase; /* 0 tokens, 1 after */
    int counted;
} stream;

static const char *const k_line =
    "{\"model\":\"%s\",\"created_at\":\"2026-11-29T00:00:00Z\",\"response\":\"t%d \","
    "\"done\":false}\n";

static ssize_t write_line(char *buf, size_t max, const char *text) {
    size_t n = strlen(text);
    if (n > max) n = max; /* lines are short; MHD's buffer is larger */
    memcpy(buf, text, n);
    return (ssize_t)n;
}

static ssize_t next_chunk(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream *st = cls;
    char line[256];
    if (strcmp(st->model, "slow") == 0) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        snprintf(line, sizeof line, k_line, st->model, st->sent++);
        return write_line(buf, max, line);
    }
    if (st->sent < st->tokens) {
        snprintf(line, sizeof line, k_line, st->model, st->sent++);
        return write_line(buf, max, line);
    }
    if (st->phase++ > 0) return MHD_CONTENT_READER_END_OF_STREAM;
    if (strcmp(st->model, "drop") == 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (strcmp(st->model, "error") == 0)
        return write_line(buf, max, "{\"error\":\"the model crashed\"}\n");
    if (strcmp(st->model, "junk") == 0) return write_line(buf, max, "<html>oops</html>\n");
    snprintf(line, sizeof line,
             "{\"model\":\"%s\",\"created_at\":\"2026-11-29T00:00:01Z\",\"response\":\"\","
             "\"done\":true,\"done_reason\":\"length\",\"eval_count\":%d}\n",
             st->model, st->tokens);
    return write_line(buf, max, line);
}

static void stream_done(void *cls) {
    stream *st = cls;
    if (st->counted) atomic_fetch_sub(&st->s->open_streams, 1);
    free(st);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *json) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result generate(ollama_standin *s, struct MHD_Connection *c, const upload *u) {
    pthread_mutex_lock(&s->lock);
    free(s->last_request);
    s->last_request = strdup(u->body ? u->body : "");
    pthread_mutex_unlock(&s->lock);
    cJSON *req = cJSON_Parse(u->body ? u->body : "");
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItem(req, "model"));
    const cJSON *np = cJSON_GetObjectItem(cJSON_GetObjectItem(req, "options"), "num_predict");
    char name[64];
    snprintf(name, sizeof name, "%s", model ? model : "");
    int want = cJSON_IsNumber(np) ? np->valueint : 10;
    cJSON_Delete(req);
    if (strcmp(name, "busy") == 0) return answer(c, 503, "{\"error\":\"server busy\"}");
    if (strcmp(name, "bad") == 0) return answer(c, 400, "{\"error\":\"invalid options\"}");
    static const char *const streams[] = {"tiny", "drop", "error", "junk", "slow"};
    int known = 0;
    for (size_t i = 0; i < 5; i++)
        known |= strcmp(name, streams[i]) == 0;
    if (!known) {
        char msg[160];
        snprintf(msg, sizeof msg, "{\"error\":\"model '%.60s' not found\"}", name);
        return answer(c, 404, msg);
    }
    stream *st = calloc(1, sizeof *st);
    st->s = s;
    snprintf(st->model, sizeof st->model, "%s", name);
    st->tokens = strcmp(name, "tiny") == 0    ? (want < 40 ? want : 40)
                 : strcmp(name, "drop") == 0  ? 3
                 : strcmp(name, "error") == 0 ? 2
                                              : 1;
    if (strcmp(name, "slow") == 0) {
        st->counted = 1;
        atomic_fetch_add(&s->open_streams, 1);
    }
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, next_chunk, st, stream_done);
    MHD_add_response_header(r, "Content-Type", "application/x-ndjson");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls) {
    (void)version;
    ollama_standin *s = cls;
    upload *u = *con_cls;
    if (!u) {
        *con_cls = calloc(1, sizeof *u);
        return MHD_YES;
    }
    if (*data_size) {
        char *grown = realloc(u->body, u->len + *data_size + 1);
        if (!grown) return MHD_NO;
        u->body = grown;
        memcpy(u->body + u->len, data, *data_size);
        u->len += *data_size;
        u->body[u->len] = '\0';
        *data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") == 0 && strcmp(url, "/api/tags") == 0)
        return answer(c, 200,
                      "{\"models\":[{\"name\":\"tiny\",\"model\":\"tiny\",\"size\":1},"
                      "{\"name\":\"slow\",\"model\":\"slow\",\"size\":1},"
                      "{\"name\":\"drop\",\"model\":\"drop\",\"size\":1}]}");
    if (strcmp(method, "POST") == 0 && strcmp(url, "/api/generate") == 0) return generate(s, c, u);
    return answer(c, 404, "{\"error\":\"no such endpoint\"}");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    upload *u = *con_cls;
    if (u) free(u->body);
    free(u);
    *con_cls = NULL;
}

ollama_standin *ollama_standin_start(void) {
    ollama_standin *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->d) {
        free(s);
        return NULL;
    }
    s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return s;
}

void ollama_standin_stop(ollama_standin *s) {
    if (!s) return;
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->lock);
    free(s->last_request);
    free(s);
}

int ollama_standin_port(const ollama_standin *s) {
    return s->port;
}

char *ollama_standin_last_request(ollama_standin *s) {
    pthread_mutex_lock(&s->lock);
    char *copy = s->last_request ? strdup(s->last_request) : NULL;
    pthread_mutex_unlock(&s->lock);
    return copy;
}

int ollama_standin_open_streams(ollama_standin *s) {
    return atomic_load(&s->open_streams);
}
