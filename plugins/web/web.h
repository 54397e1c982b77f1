/* The web plugin's shared state: the static files compiled into the plugin (cmake/embed.cmake),
 * each with its Content-Type and ETag, and the headers every answer carries. */
#ifndef AITBC_WEB_H
#define AITBC_WEB_H

#include <stddef.h>
#include <aitbc/aitbc.h>

#define WEB_ETAG_MAX 40
#define WEB_CSP_MAX 1024

typedef struct web_file {
    const char *name; /* flat name: "app.js" (the URL is /web/<name>) */
    const char *data;
    size_t len;
    const char *type; /* Content-Type */
    char etag[WEB_ETAG_MAX];
    char *owned; /* data we made (config.json), freed in destroy */
} web_file;

typedef struct web_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    web_file *files;
    size_t nfiles;
    char csp[WEB_CSP_MAX];
} web_state;

/* files.c */
/** @brief Index the embedded files and add the generated config.json; 0 or AITBC_ENOMEM. */
int web_files_load(web_state *ws, const char *websocket_url);
/** @brief The file named exactly name, or NULL. */
const web_file *web_file_find(const web_state *ws, const char *name);
/** @brief Content-Type for a file name by its extension (application/octet-stream if unknown). */
const char *web_content_type(const char *name);
void web_files_free(web_state *ws);

/* routes.c */
int web_routes(web_state *ws);

#endif
