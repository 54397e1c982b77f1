/* `aitbc-host -c CFG --verify-receipt FILE`: check a receipt offline against this node's receipt
 * public key. FILE holds a receipt, or any object with a "receipt" member (a completion answer). */
#include "client.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
        if (n == cap) {
            if (cap >= (64u << 20)) { /* a receipt is small; refuse absurd files */
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

int cl_verify_receipt_run(void *self, int argc, char **argv) {
    client_state *cs = self;
    if (argc < 1 || !argv[0]) {
        printf("usage: aitbc-host -c CONFIG --verify-receipt FILE\n");
        return 2;
    }
    char *text = slurp(argv[0]);
    if (!text) {
        printf("receipt %s: cannot read the file\n", argv[0]);
        return 2;
    }
    cJSON *doc = cJSON_Parse(text);
    free(text);
    const cJSON *r = doc;
    if (cJSON_IsObject(doc) && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "receipt")))
        r = cJSON_GetObjectItemCaseSensitive(doc, "receipt");
    const char *kid =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "coordinator_key_id"));
    const char *rid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "receipt_id"));
    int rc;
    if (!cJSON_IsObject(r) || !kid) {
        printf("receipt %s: INVALID (not a receipt)\n", argv[0]);
        rc = 1;
    } else if (strcmp(kid, cs->key.key_id) != 0) {
        printf("receipt %s: INVALID (signed by key %s, this node's key is %s)\n", rid ? rid : "?",
               kid, cs->key.key_id);
        rc = 1;
    } else if (jc_receipt_verify(r, cs->key.pk_hex) != 0) {
        printf("receipt %s: INVALID (signature does not verify)\n", rid ? rid : "?");
        rc = 1;
    } else {
        const char *job = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "job_id"));
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "state"));
        printf("receipt %s: OK (job %s, %s, key %s)\n", rid ? rid : "?", job ? job : "?",
               st ? st : "?", kid);
        rc = 0;
    }
    cJSON_Delete(doc);
    return rc;
}
