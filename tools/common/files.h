/* Reading small input files whole, for the command-line tools. */
#ifndef AITBC_TOOLS_FILES_H
#define AITBC_TOOLS_FILES_H

#include <cjson/cJSON.h>
#include <stddef.h>

/** The whole file, NUL-terminated (caller frees), at most max bytes ("-" = stdin). NULL with a
 *  sentence in err when it cannot be read or is larger. */
char *at_read_file(const char *path, size_t max, size_t *len, char *err, size_t cap);
/** at_read_file + strict JSON parse (caller frees with cJSON_Delete); NULL with err. */
cJSON *at_read_json(const char *path, size_t max, char *err, size_t cap);

#endif
