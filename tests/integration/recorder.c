/* The traffic recorder (recorder.h). One line per call, written with a single write() on an
 * O_APPEND descriptor, so threads and forked children of one test never interleave lines, and
 * nothing stays open or allocated between calls. Bodies that are not JSON, or larger than the
 * cap, are left out and marked, so the validator checks what it can and says what it skipped. */
#include "recorder.h"

#include <errno.h> /* program_invocation_short_name (_GNU_SOURCE is set for every target) */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A test that sends a 16 MiB job checks the limit, not the schema: such bodies are not kept. */
#define RECORD_BODY_MAX (1024 * 1024)

static const char *g_dir; /* NULL: recording off */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void read_env(void) {
    const char *dir = getenv("AITBC_API_RECORD");
    g_dir = dir && *dir ? dir : NULL;
    if (g_dir && mkdir(g_dir, 0755) != 0 && errno != EEXIST)
        fprintf(stderr, "harness: AITBC_API_RECORD: %s: %s\n", g_dir, strerror(errno));
}

static int is_json_type(const char *type) {
    if (!type) return 0;
    size_t n = strcspn(type, ";");
    /* application/json and any application/<x>+json */
    return (n == 16 && strncasecmp(type, "application/json", 16) == 0) ||
           (n > 5 && strncasecmp(type + n - 5, "+json", 5) == 0);
}

/* Adds <name> (the parsed body) or <name>_skipped saying why it is not there. parsed may be
 * borrowed (referenced, not copied) or NULL to parse text here; *owned gets what was parsed. */
static void add_body(cJSON *rec, const char *name, const char *type, const char *text, size_t len,
                     const cJSON *parsed, cJSON **owned) {
    char key[40];
    snprintf(key, sizeof key, "%s_skipped", name);
    if (!text || len == 0) return;
    if (len > RECORD_BODY_MAX) {
        cJSON_AddStringToObject(rec, key, "large");
        return;
    }
    if (!is_json_type(type)) {
        cJSON_AddStringToObject(rec, key, "not json");
        return;
    }
    if (!parsed) parsed = *owned = cJSON_ParseWithLength(text, len);
    if (!parsed) {
        cJSON_AddStringToObject(rec, key, "invalid json");
        return;
    }
    cJSON_AddItemReferenceToObject(rec, name, (cJSON *)parsed);
}

static void append_line(const char *line) {
    char file[4096];
    snprintf(file, sizeof file, "%s/%s.%ld.jsonl", g_dir, program_invocation_short_name,
             (long)getpid());
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "harness: AITBC_API_RECORD: %s: %s\n", file, strerror(errno));
        return;
    }
    size_t len = strlen(line);
    if (write(fd, line, len) != (ssize_t)len)
        fprintf(stderr, "harness: AITBC_API_RECORD: short write to %s\n", file);
    close(fd);
}

int th_recording(void) {
    pthread_once(&g_once, read_env);
    return g_dir != NULL;
}

void th_record(const char *prefix, const char *method, const char *path, const char *req_type,
               const char *req_body, const th_resp *resp) {
    if (!th_recording() || !resp) return;
    cJSON *rec = cJSON_CreateObject();
    cJSON *req_parsed = NULL, *resp_parsed = NULL;
    char resp_type[200];
    const char *rt = th_resp_header(resp, "Content-Type", resp_type, sizeof resp_type);
    cJSON_AddStringToObject(rec, "method", method);
    cJSON_AddStringToObject(rec, "path", path);
    if (prefix && *prefix) cJSON_AddStringToObject(rec, "prefix", prefix);
    if (req_body) {
        cJSON_AddStringToObject(rec, "req_type", req_type ? req_type : "");
        add_body(rec, "req_body", req_type, req_body, strlen(req_body), NULL, &req_parsed);
    }
    cJSON_AddNumberToObject(rec, "status", (double)resp->status);
    if (rt) cJSON_AddStringToObject(rec, "resp_type", rt);
    add_body(rec, "resp_body", rt, resp->body, resp->body_len, resp->json, &resp_parsed);
    char *text = cJSON_PrintUnformatted(rec);
    cJSON_Delete(rec); /* references to the bodies are not freed with it */
    cJSON_Delete(req_parsed);
    cJSON_Delete(resp_parsed);
    if (!text) return;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (line) {
        line[n] = '\n';
        line[n + 1] = '\0';
        append_line(line);
    }
    free(line ? line : text);
}
