/* aitbc receipt get|verify. verify is the SDK's offline check (the same one aitbc-host
 * --verify-receipt runs): no database, no account; the key comes from --public-key or, by
 * default, from the configured node. */
#include "cli.h"
#include "receipt_check.h"

#include <aitbc/json.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int get(cli *c) {
    int rc = cli_only(c, OPT_OUT, "receipt get");
    if (rc != CLI_OK) return rc;
    if (c->argc != 1 || !cli_id_ok(c->argv[0], "job")) {
        if (c->argc != 1) cli_err("usage: aitbc receipt get JOB_ID [-o FILE]");
        return CLI_USAGE;
    }
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/receipt", c->argv[0]);
    at_resp r;
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (!c->o.out) {
        cli_print_json(r.json);
    } else {
        char *text = aitbc_json_print(r.json);
        FILE *f = text ? fopen(c->o.out, "w") : NULL;
        int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
        if (f) ok = fclose(f) == 0 && ok;
        if (!ok) {
            cli_err("cannot write %s: %s", c->o.out, strerror(errno));
            rc = CLI_USAGE;
        } else if (!c->json) {
            fprintf(stderr,
                    "saved the receipt of %s to %s; check it with: aitbc receipt verify %s\n",
                    c->argv[0], c->o.out, c->o.out);
        }
        free(text);
    }
    at_resp_free(&r);
    return rc;
}

static int verify(cli *c) {
    int rc = cli_only(c, OPT_PUBLIC_KEY | OPT_PAYLOAD | OPT_RESULT | OPT_JOB, "receipt verify");
    if (rc != CLI_OK) return rc;
    if (c->argc != 1) {
        cli_err("usage: aitbc receipt verify FILE [--public-key FILE|URL] [--payload F] "
                "[--result F] [--job F]");
        return CLI_USAGE;
    }
    at_check_args a = {.receipt_path = c->argv[0],
                       .key_source = c->o.public_key ? c->o.public_key : c->url,
                       .payload_path = c->o.payload,
                       .result_path = c->o.result,
                       .job_path = c->o.job};
    at_verdict v;
    rc = at_check_receipt(&a, &v);
    if (c->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "valid", v.ok);
        cJSON_AddStringToObject(o, "receipt_id", v.receipt_id);
        cJSON_AddStringToObject(o, "reason", v.reason);
        cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("receipt %s: %s (%s)\n", v.receipt_id, v.ok ? "OK" : "INVALID", v.reason);
    }
    return rc == 0 ? CLI_OK : CLI_JOB_FAILED;
}

int cli_receipt(cli *c, const char *sub) {
    if (strcmp(sub, "get") == 0) return get(c);
    if (strcmp(sub, "verify") == 0) return verify(c);
    cli_err("unknown 'receipt %s': get or verify", sub);
    return CLI_USAGE;
}
