/* aitbc miner keygen|status. keygen writes the miner-agent's key file format (the Ed25519 seed as
 * 64 hex characters and a newline, mode 0600), made by the same code the agent uses, so a key
 * made here is the identity a miner node starts with. */
#include "cli.h"
#include "jobs_core.h"

#include <aitbc/json.h>
#include <aitbc/util.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int keygen(cli *c) {
    int rc = cli_only(c, OPT_OUT, "miner keygen");
    if (rc != CLI_OK) return rc;
    if (c->argc) {
        cli_err("usage: aitbc miner keygen [-o FILE]");
        return CLI_USAGE;
    }
    const char *path = c->o.out ? c->o.out : "miner.key";
    if (access(path, F_OK) == 0) {
        cli_err("%s exists: a key is a miner's identity and is never overwritten (move it away "
                "or choose another file with -o)",
                path);
        return CLI_USAGE;
    }
    if (sodium_init() < 0) return CLI_USAGE;
    jc_key key;
    if (jc_key_load_or_create(path, &key) != 0) {
        cli_err("cannot create %s (does its directory exist and is it writable?)", path);
        return CLI_USAGE;
    }
    char address[48];
    aitbc_address_from_pubkey(key.pk, address);
    if (c->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", path);
        cJSON_AddStringToObject(o, "address", address);
        cJSON_AddStringToObject(o, "public_key", key.pk_hex);
        cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("wrote %s (mode 0600)\naddress     %s\npublic_key  %s\n", path, address, key.pk_hex);
        fprintf(stderr, "put it at <data_dir>/miner.key on the miner node before its first start, "
                        "and back it up: the address is where the miner is paid\n");
    }
    sodium_memzero(&key, sizeof key);
    return CLI_OK;
}

static const char *str(const cJSON *o, const char *k) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return s ? s : "-";
}

static long long num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static int status(cli *c) {
    int rc = cli_only(c, 0, "miner status");
    if (rc != CLI_OK) return rc;
    if (c->argc > 1) {
        cli_err("usage: aitbc miner status [ADDRESS]");
        return CLI_USAGE;
    }
    char address[64] = "";
    at_resp r;
    if (c->argc == 1) {
        if (!aitbc_address_valid(c->argv[0])) {
            cli_err("'%s' is not an address (ait1 + 40 lowercase hex)", c->argv[0]);
            return CLI_USAGE;
        }
        snprintf(address, sizeof address, "%s", c->argv[0]);
    } else {
        /* no address: the miner the key belongs to */
        if ((rc = cli_call(c, "GET", "/v1/account", NULL, &r)) != CLI_OK) return rc;
        const char *a = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.json, "address"));
        snprintf(address, sizeof address, "%s", a ? a : "");
        at_resp_free(&r);
        if (!address[0]) {
            cli_err("this key has no address: give the miner's ADDRESS");
            return CLI_USAGE;
        }
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/miners/%s", address);
    if ((rc = cli_call(c, "GET", path, NULL, &r)) != CLI_OK) return rc;
    if (c->json) {
        cli_print_json(r.json);
    } else {
        const cJSON *m = r.json;
        printf("miner           %s\nstatus          %s\nlast heartbeat  %s\n", str(m, "address"),
               str(m, "status"), str(m, "last_heartbeat"));
        printf("running         %lld of %lld\ncompleted       %lld\nfailed          %lld\n",
               num(m, "running"), num(m, "concurrency"), num(m, "jobs_completed"),
               num(m, "jobs_failed"));
        printf("unit price      %s AIT per %s\nearnings        %s AIT\n", str(m, "unit_price"),
               str(m, "unit_type"), str(m, "earnings"));
    }
    at_resp_free(&r);
    return CLI_OK;
}

int cli_miner(cli *c, const char *sub) {
    if (strcmp(sub, "keygen") == 0) return keygen(c);
    if (strcmp(sub, "status") == 0) return status(c);
    cli_err("unknown 'miner %s': keygen or status", sub);
    return CLI_USAGE;
}
