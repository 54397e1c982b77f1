/* Where the node is and which key to use: flags, then AITBC_URL / AITBC_API_KEY, then the
 * config file (a flat YAML mapping: url, api_key), then the default URL. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define CLI_DEFAULT_URL "http://127.0.0.1:18000"

/* Default config path into out; 0, or -1 when there is no home to look in. */
static int default_path(char *out, size_t cap) {
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0])
        n = snprintf(out, cap, "%s/aitbc/config.yaml", xdg);
    else if (home && home[0])
        n = snprintf(out, cap, "%s/.config/aitbc/config.yaml", home);
    else
        return -1;
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Read url and api_key from the YAML file at path into the empty fields of c. */
static int read_file(cli *c, const char *path, int must_exist) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (!must_exist) return CLI_OK;
        cli_err("cannot open the config file %s", path);
        return CLI_USAGE;
    }
    yaml_parser_t p;
    yaml_event_t ev;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc = CLI_OK, depth = 0, done = 0;
    char key[64] = "";
    int want_key = 1, has_key_in_file = 0;
    while (!done && rc == CLI_OK) {
        if (!yaml_parser_parse(&p, &ev)) {
            cli_err("%s:%zu: %s (fix the YAML: url: and api_key: lines)", path,
                    p.problem_mark.line + 1, p.problem ? p.problem : "malformed");
            rc = CLI_USAGE;
            break;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (++depth > 1) {
                cli_err("%s:%zu: only flat 'name: value' lines are read here", path,
                        ev.start_mark.line + 1);
                rc = CLI_USAGE;
            }
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (depth != 1) {
                cli_err("%s: expected 'url:' and 'api_key:' lines", path);
                rc = CLI_USAGE;
            } else if (want_key) {
                snprintf(key, sizeof key, "%s", v);
                want_key = 0;
            } else {
                if (strcmp(key, "url") == 0) {
                    if (!c->url[0]) {
                        snprintf(c->url, sizeof c->url, "%s", v);
                        c->url_from = "the config file";
                    }
                } else if (strcmp(key, "api_key") == 0) {
                    has_key_in_file = 1;
                    if (!c->api_key[0]) {
                        snprintf(c->api_key, sizeof c->api_key, "%s", v);
                        c->key_from = "the config file";
                    }
                } else {
                    cli_err("%s:%zu: unknown setting '%s' (known: url, api_key)", path,
                            ev.start_mark.line + 1, key);
                    rc = CLI_USAGE;
                }
                want_key = 1;
            }
            break;
        }
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    struct stat st;
    if (rc == CLI_OK && has_key_in_file && fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        cli_err("warning: %s holds an API key and is readable by others: chmod 600 %s", path, path);
    fclose(f);
    return rc;
}

int cli_settings(cli *c, const char *config_path) {
    if (c->url[0]) c->url_from = "--url";
    if (c->api_key[0]) c->key_from = "--api-key";
    const char *env_url = getenv("AITBC_URL"), *env_key = getenv("AITBC_API_KEY");
    if (!c->url[0] && env_url && env_url[0]) {
        snprintf(c->url, sizeof c->url, "%s", env_url);
        c->url_from = "AITBC_URL";
    }
    if (!c->api_key[0] && env_key && env_key[0]) {
        snprintf(c->api_key, sizeof c->api_key, "%s", env_key);
        c->key_from = "AITBC_API_KEY";
    }
    char path[1024];
    int rc = CLI_OK;
    if (config_path)
        rc = read_file(c, config_path, 1);
    else if ((!c->url[0] || !c->api_key[0]) && default_path(path, sizeof path) == 0)
        rc = read_file(c, path, 0);
    if (rc != CLI_OK) return rc;
    if (!c->url[0]) {
        snprintf(c->url, sizeof c->url, "%s", CLI_DEFAULT_URL);
        c->url_from = "the default";
    }
    size_t n = strlen(c->url);
    while (n > 0 && c->url[n - 1] == '/')
        c->url[--n] = 0;
    if (!at_is_url(c->url)) {
        cli_err("the node URL '%s' (from %s) must start with http:// or https://", c->url,
                c->url_from);
        return CLI_USAGE;
    }
    return CLI_OK;
}
