/* The explorer plugin's shared state and helpers: read-only views of the chain plugin's tables. */
#ifndef AITBC_EXPLORER_H
#define AITBC_EXPLORER_H

#include <aitbc/aitbc.h>
#include <aitbc/ledger.h>

#define EX_LIMIT_DEFAULT 50
#define EX_LIMIT_MAX 500
#define EX_TAG_LEN 16
#define EX_CURSOR_MAX 128

typedef struct ex_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    const aitbc_ledger_v1 *ledger; /* looked up in start */
} ex_state;

/* cursor.c */
/** @brief Tag binding a cursor to one listing and its filters (16 hex chars of a SHA-256).
 *  a and b may be NULL. */
void ex_filter_tag(const char *listing, const char *a, const char *b, char out[EX_TAG_LEN + 1]);
/** @brief Opaque cursor: base64url of {"f":tag,"k":key}. out needs EX_CURSOR_MAX. */
int ex_cursor_encode(const char *tag, int64_t key, char out[EX_CURSOR_MAX]);
/** @brief Decode a cursor. 0 and *key; AITBC_EINVAL if malformed; AITBC_ECONFLICT if it was made
 *  for other filters. */
int ex_cursor_decode(const char *text, const char *tag, int64_t *key);
/** @brief ?limit=: NULL → default; digits only, 1..500. 0 or AITBC_EINVAL. */
int ex_parse_limit(const char *text, int *out);

/* routes.c */
int ex_routes_register(ex_state *es);

#endif
