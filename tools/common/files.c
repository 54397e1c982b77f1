/* Whole-file reads with a size bound, and JSON files parsed the way the node parses bodies. */
#include "files.h"

#include <aitbc/json.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *at_read_file(const char *path, size_t max, size_t *len, char *err, size_t cap) {
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, cap, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t n = 0, size = 4096;
    char *buf = malloc(size + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, size - n, f);
        n += got;
        if (n > max) {
            snprintf(err, cap, "%s is larger than %zu bytes", path, max);
            free(buf);
            buf = NULL;
            break;
        }
        if (got == 0) break;
        if (n == size) {
            char *b = realloc(buf, size * 2 + 1);
            if (!b) {
                free(buf);
                buf = NULL;
                snprintf(err, cap, "out of memory reading %s", path);
                break;
            }
            buf = b;
            size *= 2;
        }
    }
    if (buf && ferror(f)) {
        snprintf(err, cap, "cannot read %s: %s", path, strerror(errno));
        free(buf);
        buf = NULL;
    }
    if (!is_stdin) fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

cJSON *at_read_json(const char *path, size_t max, char *err, size_t cap) {
    size_t n = 0;
    char *text = at_read_file(path, max, &n, err, cap);
    if (!text) return NULL;
    cJSON *v = aitbc_json_parse_strict(text, n);
    free(text);
    if (!v) snprintf(err, cap, "%s is not valid JSON", path);
    return v;
}
