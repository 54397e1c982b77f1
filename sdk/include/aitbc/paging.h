/* List paging as API.md defines it: ?limit= (1..500, default 50) and opaque keyset cursors that
 * are bound to the listing and filters they were made for. One implementation for every plugin. */
#ifndef AITBC_PAGING_H
#define AITBC_PAGING_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AITBC_LIMIT_DEFAULT 50
#define AITBC_LIMIT_MAX 500
#define AITBC_CURSOR_TAG_LEN 16 /* hex chars */
#define AITBC_CURSOR_TIE_MAX 64 /* tie-break text, NUL included */
#define AITBC_CURSOR_MAX 192

/** ?limit=: NULL → AITBC_LIMIT_DEFAULT; decimal 1..AITBC_LIMIT_MAX → 0 and *out; else AITBC_EINVAL.
 */
int aitbc_page_limit(const char *text, int *out);
/** Tag for a listing and its filter values (each may be NULL; NULL and "" differ from each other
 *  only by position, so ("a", NULL) and (NULL, "a") give different tags). out gets 16 hex + NUL. */
void aitbc_cursor_tag(const char *listing, const char *const *filters, size_t nfilters,
                      char out[AITBC_CURSOR_TAG_LEN + 1]);
/** Cursor after the row (key >= 0, tie): tie breaks equal keys (may be NULL). 0 or AITBC_EINVAL. */
int aitbc_cursor_encode(const char *tag, int64_t key, const char *tie, char out[AITBC_CURSOR_MAX]);
/** Read a cursor made for tag. 0 with *key and tie (may be NULL if the caller uses none);
 *  AITBC_EINVAL if malformed; AITBC_ECONFLICT if it was made for another listing or filters. */
int aitbc_cursor_decode(const char *text, const char *tag, int64_t *key,
                        char tie[AITBC_CURSOR_TIE_MAX]);

typedef struct aitbc_host_api aitbc_host_api;
typedef struct aitbc_stmt aitbc_stmt;
/** Builds one list item from the current row (a new object: aitbc_page_collect TAKES it), or
 *  returns NULL to leave the row out. Runs on aitbc_page_collect's thread, inside its loop. */
typedef cJSON *(*aitbc_page_row_fn)(aitbc_stmt *s, void *user);

/** Steps a keyset page query (bound to return at most limit + 1 rows, newest first) into
 *  {"items":[…], "next_cursor":…}: up to limit rows through row(), and a cursor after the last
 *  row's key_col when one more row exists. Releases s (stmt_done). The answer is new (caller
 *  frees); NULL if a step failed. */
cJSON *aitbc_page_collect(const aitbc_host_api *api, aitbc_stmt *s, int limit, int key_col,
                          const char *tag, aitbc_page_row_fn row, void *user);

/** Sets "next_cursor" on a list answer: the cursor after (last_key, last_tie) when more rows
 *  follow, else null. */
void aitbc_page_set_next(cJSON *answer, int more, const char *tag, int64_t last_key,
                         const char *last_tie);

#ifdef __cplusplus
}
#endif

#endif
