/* aitbc job submit|get|list|cancel. submit builds the payload from flags (or takes a JSON file),
 * prints the job id at once, follows the job with short long-polls (the node answers as soon as
 * the job ends) and prints the result. */
#include "cli.h"
#include "files.h"

#include <aitbc/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLI_IMAGE_MAX (12u << 20) /* base64 grows it by a third: stays under the 16 MiB body */
#define CLI_PAYLOAD_MAX (16u << 20)

/* An id is used in a URL path: letters, digits, '_' and '-' only. */
int cli_id_ok(const char *id, const char *what) {
    size_t n = id ? strlen(id) : 0;
    int ok = n > 0 && n < 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
             (id[i] >= '0' && id[i] <= '9') || id[i] == '_' || id[i] == '-';
    if (!ok) cli_err("'%s' is not a %s id", id ? id : "", what);
    return ok;
}

/* Percent-encoded query value appended to out. */
static void add_query(char *out, size_t cap, const char *name, const char *value) {
    size_t n = strlen(out);
    if (!value || n + 8 >= cap) return;
    n += (size_t)snprintf(out + n, cap - n, "%c%s=", strchr(out, '?') ? '&' : '?', name);
    for (const unsigned char *p = (const unsigned char *)value; *p && n + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~')
            out[n++] = (char)*p;
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", *p);
    }
    out[n] = 0;
}

static cJSON *ocr_payload(cli *c) {
    char err[512];
    size_t len = 0;
    if (!c->o.image) {
        cli_err("--type ocr needs --image FILE (PNG, JPEG or TIFF)");
        return NULL;
    }
    char *img = at_read_file(c->o.image, CLI_IMAGE_MAX, &len, err, sizeof err);
    if (!img) {
        cli_err("%s", err);
        return NULL;
    }
    size_t b64_len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_len);
    if (b64)
        sodium_bin2base64(b64, b64_len, (const unsigned char *)img, len,
                          sodium_base64_VARIANT_ORIGINAL);
    free(img);
    if (!b64) return NULL;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "ocr");
    cJSON_AddStringToObject(p, "image_base64", b64);
    free(b64);
    if (c->o.lang) cJSON_AddStringToObject(p, "lang", c->o.lang);
    return p;
}

static cJSON *inference_payload(cli *c) {
    if (!c->o.model || !c->o.prompt) {
        cli_err("--type inference needs --model NAME and --prompt TEXT");
        return NULL;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "inference");
    cJSON_AddStringToObject(p, "model", c->o.model);
    cJSON_AddStringToObject(p, "prompt", c->o.prompt);
    if (c->o.max_tokens) {
        char *end;
        long v = strtol(c->o.max_tokens, &end, 10);
        if (*end || v < 1 || v > 1000000) {
            cli_err("--max-tokens must be a whole number 1..1000000");
            cJSON_Delete(p);
            return NULL;
        }
        cJSON_AddNumberToObject(p, "max_tokens", (double)v);
    }
    return p;
}

/* The payload from the flags; NULL after saying what is missing. */
static cJSON *payload_of(cli *c) {
    const unsigned ocr = OPT_IMAGE | OPT_LANG, inf = OPT_MODEL | OPT_PROMPT | OPT_MAX_TOKENS;
    if (c->o.payload) {
        char err[512];
        if (c->o.given & (ocr | inf)) {
            cli_err("--payload carries the whole payload: leave out --image/--model/--prompt");
            return NULL;
        }
        cJSON *p = at_read_json(c->o.payload, CLI_PAYLOAD_MAX, err, sizeof err);
        if (!cJSON_IsObject(p)) {
            cli_err("%s", p ? "the --payload file must hold a JSON object" : err);
            cJSON_Delete(p);
            return NULL;
        }
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "type"));
        if (!t && c->o.type) cJSON_AddStringToObject(p, "type", c->o.type);
        if (t && c->o.type && strcmp(t, c->o.type) != 0) {
            cli_err("--type %s but the payload says type %s", c->o.type, t);
            cJSON_Delete(p);
            return NULL;
        }
        return p;
    }
    if (!c->o.type) {
        cli_err("say what to run: --type ocr --image FILE, --type inference --model M --prompt "
                "T, or --payload FILE");
        return NULL;
    }
    if (strcmp(c->o.type, "ocr") == 0) {
        if (c->o.given & inf) cli_err("--model/--prompt/--max-tokens go with --type inference");
        return c->o.given & inf ? NULL : ocr_payload(c);
    }
    if (strcmp(c->o.type, "inference") == 0) {
        if (c->o.given & ocr) cli_err("--image/--lang go with --type ocr");
        return c->o.given & ocr ? NULL : inference_payload(c);
    }
    if (c->o.given & (ocr | inf)) {
        cli_err("--type %s takes its input from --payload FILE", c->o.type);
        return NULL;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", c->o.type);
    return p;
}

static int terminal(const char *state) {
    return state && (strcmp(state, "COMPLETED") == 0 || strcmp(state, "FAILED") == 0 ||
                     strcmp(state, "CANCELED") == 0 || strcmp(state, "EXPIRED") == 0);
}

/* The end of a followed job: result on stdout, exit code by state. Takes job. */
static int finish(cli *c, cJSON *job) {
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "state"));
    int ok = state && strcmp(state, "COMPLETED") == 0;
    if (c->json)
        cli_print_json(job);
    else if (ok)
        cli_show_result(job);
    if (!ok) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(job, "error");
        cli_err("job %s ended %s: %s: %s",
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "job_id")),
                state ? state : "?",
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"))
                    ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"))
                    : "-",
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"))
                    ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"))
                    : "-");
    }
    cJSON_Delete(job);
    return ok ? CLI_OK : CLI_JOB_FAILED;
}

/* Follow id until it ends: each GET waits up to 1 s for the end, so progress shows every second
 * and the end shows at once. */
static int follow(cli *c, const char *id) {
    int tty = isatty(2);
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s?wait_s=0", id); /* show where it stands at once */
    for (;;) {
        at_resp r;
        int rc = cli_call(c, "GET", path, NULL, &r);
        if (rc != CLI_OK) return rc;
        cJSON *job = r.json;
        r.json = NULL;
        at_resp_free(&r);
        int done = terminal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "state")));
        if (!c->json) cli_show_progress(job, tty, done);
        if (done) return finish(c, job);
        cJSON_Delete(job);
        snprintf(path, sizeof path, "/v1/jobs/%s?wait_s=1", id);
    }
}

static int submit(cli *c) {
    int rc = cli_only(c,
                      OPT_TYPE | OPT_IMAGE | OPT_LANG | OPT_MODEL | OPT_PROMPT | OPT_MAX_TOKENS |
                          OPT_PAYLOAD | OPT_MAX_PRICE | OPT_TTL | OPT_NO_WAIT,
                      "job submit");
    if (rc != CLI_OK) return rc;
    if (c->argc) {
        cli_err("job submit takes options only ('%s'?)", c->argv[0]);
        return CLI_USAGE;
    }
    cJSON *payload = payload_of(c);
    if (!payload) return CLI_USAGE;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddItemToObject(body, "payload", payload);
    if (c->o.max_price) cJSON_AddStringToObject(body, "max_price", c->o.max_price);
    if (c->o.ttl) {
        char *end;
        long v = strtol(c->o.ttl, &end, 10);
        if (*end || v < 1 || v > 86400) {
            cli_err("--ttl must be whole seconds 1..86400");
            cJSON_Delete(body);
            return CLI_USAGE;
        }
        cJSON_AddNumberToObject(body, "ttl_seconds", (double)v);
    }
    char *text = aitbc_json_print(body);
    cJSON_Delete(body);
    at_resp r;
    rc = text ? cli_call(c, "POST", "/v1/jobs", text, &r) : CLI_USAGE;
    free(text);
    if (rc != CLI_OK) return rc;
    char id[64];
    snprintf(id, sizeof id, "%s",
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.json, "job_id")));
    if (c->json && (c->o.given & OPT_NO_WAIT)) cli_print_json(r.json);
    if (!c->json) {
        puts(id);
        fflush(stdout);
    }
    at_resp_free(&r);
    return c->o.given & OPT_NO_WAIT ? CLI_OK : follow(c, id);
}

static int get(cli *c) {
    int rc = cli_only(c, OPT_WAIT, "job get");
    if (rc != CLI_OK) return rc;
    if (c->argc != 1 || !cli_id_ok(c->argv[0], "job")) {
        if (c->argc != 1) cli_err("usage: aitbc job get JOB_ID [--wait SECONDS]");
        return CLI_USAGE;
    }
    char path[256];
    snprintf(path, sizeof path, "/v1/jobs/%s", c->argv[0]);
    add_query(path, sizeof path, "wait_s", c->o.wait);
    at_resp r;
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
    } else {
        cli_show_job(r.json);
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.json, "state"));
        if (st && strcmp(st, "COMPLETED") == 0) {
            puts("result:");
            cli_show_result(r.json);
        }
    }
    at_resp_free(&r);
    return CLI_OK;
}

static int list(cli *c) {
    int rc = cli_only(c, OPT_STATE | OPT_LIMIT | OPT_CURSOR, "job list");
    if (rc != CLI_OK) return rc;
    if (c->argc) {
        cli_err("job list takes options only: --state, --limit, --cursor");
        return CLI_USAGE;
    }
    char path[1024] = "/v1/jobs";
    add_query(path, sizeof path, "state", c->o.state);
    add_query(path, sizeof path, "limit", c->o.limit);
    add_query(path, sizeof path, "cursor", c->o.cursor);
    at_resp r;
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
    } else {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json, "items")) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "progress");
            const char *price = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "price"));
            char pc[8] = "-";
            if (cJSON_IsNumber(p))
                snprintf(pc, sizeof pc, "%d%%", (int)(p->valuedouble * 100 + 0.5));
            printf("%-30s %-9s %4s %-12s %10s  %s\n",
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "job_id")),
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "state")), pc,
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                       cJSON_GetObjectItemCaseSensitive(it, "payload"), "type")),
                   price ? price : "-",
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "created_at")));
        }
        const char *next =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.json, "next_cursor"));
        if (next) fprintf(stderr, "more: aitbc job list --cursor %s\n", next);
    }
    at_resp_free(&r);
    return CLI_OK;
}

static int cancel(cli *c) {
    int rc = cli_only(c, 0, "job cancel");
    if (rc != CLI_OK) return rc;
    if (c->argc != 1 || !cli_id_ok(c->argv[0], "job")) {
        if (c->argc != 1) cli_err("usage: aitbc job cancel JOB_ID");
        return CLI_USAGE;
    }
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", c->argv[0]);
    at_resp r;
    if ((rc = cli_call(c, "POST", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json)
        cli_print_json(r.json);
    else
        printf("%s CANCELED (payment %s)\n", c->argv[0],
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.json, "payment_status")));
    at_resp_free(&r);
    return CLI_OK;
}

int cli_job(cli *c, const char *sub) {
    if (strcmp(sub, "submit") == 0) return submit(c);
    if (strcmp(sub, "get") == 0) return get(c);
    if (strcmp(sub, "list") == 0) return list(c);
    if (strcmp(sub, "cancel") == 0) return cancel(c);
    cli_err("unknown 'job %s': submit, get, list or cancel", sub);
    return CLI_USAGE;
}
