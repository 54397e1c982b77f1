/* The static files: compiled into the plugin, so nothing is read from disk at run time and a
 * request can only ever name one of these entries (no path, no traversal). Each gets a strong
 * ETag from its bytes. config.json is made here from the plugin's config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "web.h"

extern const size_t aitbc_web_count;
extern const char *const aitbc_web_names[];
extern const unsigned char *const aitbc_web_data[];
extern const size_t aitbc_web_sizes[];

const char *web_content_type(const char *name) {
    static const struct {
        const char *ext, *type;
    } k_types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof k_types / sizeof k_types[0]; i++)
        if (strcmp(dot, k_types[i].ext) == 0) return k_types[i].type;
    return "application/octet-stream";
}

static void etag_of(const char *data, size_t len, char out[WEB_ETAG_MAX]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)data, len);
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, h, 16);
    snprintf(out, WEB_ETAG_MAX, "\"%s\"", hex);
}

/* What the page needs to know that only the operator knows: where the WebSocket listener is. */
static char *config_json(const char *websocket_url) {
    cJSON *o = cJSON_CreateObject();
    if (websocket_url)
        cJSON_AddStringToObject(o, "websocket_url", websocket_url);
    else
        cJSON_AddNullToObject(o, "websocket_url");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

int web_files_load(web_state *ws, const char *websocket_url) {
    ws->files = calloc(aitbc_web_count + 1, sizeof *ws->files);
    if (!ws->files) return AITBC_ENOMEM;
    for (size_t i = 0; i < aitbc_web_count; i++) {
        web_file *f = &ws->files[i];
        f->name = aitbc_web_names[i];
        f->data = (const char *)aitbc_web_data[i];
        f->len = aitbc_web_sizes[i];
        f->type = web_content_type(f->name);
        etag_of(f->data, f->len, f->etag);
    }
    web_file *c = &ws->files[aitbc_web_count];
    if (!(c->owned = config_json(websocket_url))) return AITBC_ENOMEM;
    c->name = "config.json";
    c->data = c->owned;
    c->len = strlen(c->owned);
    c->type = web_content_type(c->name);
    etag_of(c->data, c->len, c->etag);
    ws->nfiles = aitbc_web_count + 1;
    return 0;
}

const web_file *web_file_find(const web_state *ws, const char *name) {
    for (size_t i = 0; name && i < ws->nfiles; i++)
        if (strcmp(ws->files[i].name, name) == 0) return &ws->files[i];
    return NULL;
}

void web_files_free(web_state *ws) {
    for (size_t i = 0; ws->files && i < ws->nfiles; i++)
        free(ws->files[i].owned);
    free(ws->files);
    ws->files = NULL;
}
