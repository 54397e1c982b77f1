/* The `aitbc` command-line client: what its files share. main.c parses the command line and
 * dispatches; settings.c finds the node URL and key; node.c talks to the node and explains its
 * errors; job.c, receipt.c and miner.c are the command groups; show.c prints for people. */
#ifndef AITBC_CLI_H
#define AITBC_CLI_H

#include "http.h"
#include <cjson/cJSON.h>
#include <stdint.h>

/** Exit codes (docs/cli.md). */
enum {
    CLI_OK = 0,          /**< done; the job COMPLETED; the receipt verified */
    CLI_JOB_FAILED = 1,  /**< the job ended FAILED, CANCELED or EXPIRED; a receipt did not verify */
    CLI_USAGE = 2,       /**< wrong command line, unreadable input file, bad config file */
    CLI_REFUSED = 3,     /**< the node answered with an error (bad key, unknown id, no funds …) */
    CLI_UNREACHABLE = 4, /**< the node could not be reached (or answered something not JSON) */
};

/** Option bits, to refuse options a command does not take. */
enum {
    OPT_TYPE = 1 << 0,
    OPT_IMAGE = 1 << 1,
    OPT_LANG = 1 << 2,
    OPT_MODEL = 1 << 3,
    OPT_PROMPT = 1 << 4,
    OPT_MAX_TOKENS = 1 << 5,
    OPT_PAYLOAD = 1 << 6,
    OPT_MAX_PRICE = 1 << 7,
    OPT_TTL = 1 << 8,
    OPT_NO_WAIT = 1 << 9,
    OPT_STATE = 1 << 10,
    OPT_LIMIT = 1 << 11,
    OPT_CURSOR = 1 << 12,
    OPT_WAIT = 1 << 13,
    OPT_PUBLIC_KEY = 1 << 14,
    OPT_RESULT = 1 << 15,
    OPT_JOB = 1 << 16,
    OPT_OUT = 1 << 17,
};

typedef struct cli_opts {
    unsigned given; /* OPT_* bits seen */
    const char *type, *image, *lang, *model, *prompt, *max_tokens, *payload, *max_price, *ttl;
    const char *state, *limit, *cursor, *wait, *public_key, *result, *job, *out;
} cli_opts;

typedef struct cli {
    char url[1024];                  /**< base URL without trailing slash */
    char api_key[256];               /**< "" = none */
    const char *url_from, *key_from; /**< where each came from, for error hints */
    int json;                        /**< --json: machine-readable stdout */
    cli_opts o;
    int argc; /**< positional words after the command pair */
    char **argv;
} cli;

/* main.c */
/** CLI_OK when every option given is in allowed, else CLI_USAGE after saying so. */
int cli_only(const cli *c, unsigned allowed, const char *what);

/* settings.c */
/** Fill url/api_key from flags (already set when non-empty), AITBC_URL/AITBC_API_KEY, then the
 *  config file (config_path, or $XDG_CONFIG_HOME/aitbc/config.yaml, ~/.config/aitbc/config.yaml).
 *  CLI_OK, or CLI_USAGE after printing what is wrong with the config file. */
int cli_settings(cli *c, const char *config_path);

/* node.c */
/** One call to the node (path starts with /v1). CLI_OK with *out (2xx, JSON body) or the exit
 *  code after telling the user what happened and what to do (stderr; with --json also the error
 *  object on stdout). */
int cli_call(cli *c, const char *method, const char *path, const char *body, at_resp *out);
/** Print a value as JSON on stdout (one line). */
void cli_print_json(const cJSON *v);
/** "aitbc: " + message on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* job.c, receipt.c, miner.c: each returns the exit code. */
/** 1 if id is safe in a URL path (letters, digits, '_', '-'); else says so and returns 0. */
int cli_id_ok(const char *id, const char *what);
int cli_job(cli *c, const char *sub);
int cli_receipt(cli *c, const char *sub);
int cli_miner(cli *c, const char *sub);

/* show.c */
/** A job as a few lines for people. */
void cli_show_job(const cJSON *job);
/** The job's result for people: its text when it has one, else the result JSON. */
void cli_show_result(const cJSON *job);
/** Progress of a job being waited for: on a terminal one line redrawn in place, else a plain
 *  line whenever state or progress changes. done = the job ended (finish the line). */
void cli_show_progress(const cJSON *job, int tty, int done);

#endif
