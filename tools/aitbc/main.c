/* aitbc: the command line for people using an AITBC node. Parses every option in one pass (they
 * may come anywhere), resolves URL and key, and hands over to the command group. */
#include "cli.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CLI_VERSION "0.1.0"

static void usage(FILE *f) {
    fprintf(
        f, "usage: aitbc [--url URL] [--api-key KEY] [--config FILE] [--json] COMMAND ...\n"
           "\n"
           "  job submit --type ocr --image FILE [--lang L]      submit, follow, print the result\n"
           "  job submit --type inference --model M --prompt T [--max-tokens N]\n"
           "  job submit --payload FILE                           any job type (JSON payload)\n"
           "      [--max-price AIT] [--ttl SECONDS] [--no-wait]\n"
           "  job get ID [--wait SECONDS]      job list [--state S] [--limit N] [--cursor C]\n"
           "  job cancel ID\n"
           "  receipt get ID [-o FILE]\n"
           "  receipt verify FILE [--public-key FILE|URL] [--payload F] [--result F] [--job F]\n"
           "  miner keygen [-o FILE]           miner status [ADDRESS]\n"
           "\n"
           "URL and key: flags, else AITBC_URL / AITBC_API_KEY, else ~/.config/aitbc/config.yaml\n"
           "(url:, api_key:); the URL defaults to http://127.0.0.1:18000.\n"
           "Exit: 0 ok, 1 job failed or receipt invalid, 2 usage, 3 refused by the node,\n"
           "4 node unreachable. Details: docs/cli.md\n");
}

void cli_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("aitbc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_only(const cli *c, unsigned allowed, const char *what) {
    if (c->o.given & ~allowed) {
        cli_err("an option given does not go with '%s' (see aitbc --help)", what);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* Parse argv into c; the words left (command, subcommand, arguments) into *words. */
static int parse(int argc, char **argv, cli *c, const char **config, char ***words, int *nwords) {
    enum { O_URL = 256, O_KEY, O_CONFIG, O_JSON, O_VERSION, O_FIRST_CMD };
    static const struct option longs[] = {{"url", required_argument, NULL, O_URL},
                                          {"api-key", required_argument, NULL, O_KEY},
                                          {"config", required_argument, NULL, O_CONFIG},
                                          {"json", no_argument, NULL, O_JSON},
                                          {"version", no_argument, NULL, O_VERSION},
                                          {"help", no_argument, NULL, 'h'},
                                          {"type", required_argument, NULL, O_FIRST_CMD + 0},
                                          {"image", required_argument, NULL, O_FIRST_CMD + 1},
                                          {"lang", required_argument, NULL, O_FIRST_CMD + 2},
                                          {"model", required_argument, NULL, O_FIRST_CMD + 3},
                                          {"prompt", required_argument, NULL, O_FIRST_CMD + 4},
                                          {"max-tokens", required_argument, NULL, O_FIRST_CMD + 5},
                                          {"payload", required_argument, NULL, O_FIRST_CMD + 6},
                                          {"max-price", required_argument, NULL, O_FIRST_CMD + 7},
                                          {"ttl", required_argument, NULL, O_FIRST_CMD + 8},
                                          {"no-wait", no_argument, NULL, O_FIRST_CMD + 9},
                                          {"state", required_argument, NULL, O_FIRST_CMD + 10},
                                          {"limit", required_argument, NULL, O_FIRST_CMD + 11},
                                          {"cursor", required_argument, NULL, O_FIRST_CMD + 12},
                                          {"wait", required_argument, NULL, O_FIRST_CMD + 13},
                                          {"public-key", required_argument, NULL, O_FIRST_CMD + 14},
                                          {"result", required_argument, NULL, O_FIRST_CMD + 15},
                                          {"job", required_argument, NULL, O_FIRST_CMD + 16},
                                          {"out", required_argument, NULL, O_FIRST_CMD + 17},
                                          {NULL, 0, NULL, 0}};
    const char **slots[] = {
        &c->o.type,       &c->o.image,   &c->o.lang,      &c->o.model, &c->o.prompt,
        &c->o.max_tokens, &c->o.payload, &c->o.max_price, &c->o.ttl,   NULL,
        &c->o.state,      &c->o.limit,   &c->o.cursor,    &c->o.wait,  &c->o.public_key,
        &c->o.result,     &c->o.job,     &c->o.out};
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":ho:", longs, NULL)) != -1) {
        if (ch == 'o') ch = O_FIRST_CMD + 17;
        if (ch >= O_FIRST_CMD) {
            int i = ch - O_FIRST_CMD;
            c->o.given |= 1u << i;
            if (slots[i]) *slots[i] = optarg;
            continue;
        }
        switch (ch) {
        case O_URL:
            snprintf(c->url, sizeof c->url, "%s", optarg);
            break;
        case O_KEY:
            snprintf(c->api_key, sizeof c->api_key, "%s", optarg);
            break;
        case O_CONFIG:
            *config = optarg;
            break;
        case O_JSON:
            c->json = 1;
            break;
        case O_VERSION:
            printf("aitbc %s\n", CLI_VERSION);
            return -1;
        case 'h':
            usage(stdout);
            return -1;
        case ':':
            cli_err("%s needs a value (see aitbc --help)", argv[optind - 1]);
            return CLI_USAGE;
        default:
            cli_err("unknown option %s (see aitbc --help)", argv[optind - 1]);
            return CLI_USAGE;
        }
    }
    *words = argv + optind;
    *nwords = argc - optind;
    return CLI_OK;
}

int main(int argc, char **argv) {
    static cli c;
    const char *config = NULL;
    char **words = NULL;
    int nwords = 0;
    int rc = parse(argc, argv, &c, &config, &words, &nwords);
    if (rc < 0) return CLI_OK; /* --help, --version */
    if (rc != CLI_OK) return rc;
    if (nwords < 2) {
        if (nwords == 1 && strcmp(words[0], "help") == 0) {
            usage(stdout);
            return CLI_OK;
        }
        usage(stderr);
        return CLI_USAGE;
    }
    if ((rc = cli_settings(&c, config)) != CLI_OK) return rc;
    c.argc = nwords - 2;
    c.argv = words + 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(words[0], "job") == 0)
        rc = cli_job(&c, words[1]);
    else if (strcmp(words[0], "receipt") == 0)
        rc = cli_receipt(&c, words[1]);
    else if (strcmp(words[0], "miner") == 0)
        rc = cli_miner(&c, words[1]);
    else {
        cli_err("unknown command '%s': job, receipt or miner (see aitbc --help)", words[0]);
        rc = CLI_USAGE;
    }
    curl_global_cleanup();
    return rc;
}
