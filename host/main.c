/* aitbc-host: the process. Parses the command line, loads and validates the config, brings the
 * modules up in dependency order (storage, workers, bus, plugins, sockets), serves until SIGINT or
 * SIGTERM, and takes everything down in reverse. Offline commands (--NAME, found as the service
 * command:NAME@1 a plugin registered) run after plugin init without opening any socket;
 * --verify-receipt needs no config at all (SDK verifier, nothing written). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "receipt_check.h"

#define COMMAND_ARGS_MAX 16

typedef struct options {
    const char *config;
    const char *ready_file;
    const char *receipt;
    at_check_args check; /* --verify-receipt: key source, optional payload/result */
    int check_config;
    int print_example;   /* --print-config-example */
    const char *command; /* "--verify-chain" runs the service "command:verify-chain@1" */
    int command_argc;
    char *command_argv[COMMAND_ARGS_MAX + 1];
} options;

/* How far start-up got; teardown undoes exactly that much, in reverse. */
enum stage { ST_NONE, ST_STORE, ST_WORK, ST_BUS, ST_LOADED, ST_STARTED, ST_HTTP, ST_WS };

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: aitbc-host -c FILE [options]\n"
        "  -c, --config FILE        YAML config (required)\n"
        "      --check-config       validate the config and the plugins it lists, print the\n"
        "                           service graph, then exit\n"
        "      --print-config-example  print the plugins: section of the config with every key\n"
        "                           of each listed plugin under a comment from its schema\n"
        "                           (meaning, type, default, range), then exit\n"
        "      --ready-file PATH    write {\"http_port\",\"ws_port\",\"pid\"} once serving\n"
        "      --NAME [ARGS...]     run the offline command a loaded plugin provides as the\n"
        "                           service command:NAME@1, then exit (e.g. --verify-chain)\n"
        "      --verify-receipt F   verify a job receipt offline and exit (no config needed):\n"
        "        --public-key FILE|URL  the coordinator key: a file holding it, or a node's URL\n"
        "        --payload FILE, --result FILE  also check the payload/result hashes\n"
        "      --version            print the version\n"
        "  -h, --help               this text\n");
}

/* "--name" or "--name=value" of a host option: the value (or "" without '='), else NULL. */
static const char *long_opt(const char *arg, const char *name) {
    size_t n = strlen(name);
    if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, n) != 0) return NULL;
    return arg[2 + n] == '=' ? arg + 3 + n : arg[2 + n] == '\0' ? "" : NULL;
}

/* An offline command's name after "--": [a-z0-9-]+. */
static int command_name_valid(const char *s) {
    size_t n = strlen(s);
    return n > 0 && n < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Value of an option that needs one: "--x=v", or the next argument. NULL (reported) if missing. */
static const char *opt_value(const char *inline_value, int argc, char **argv, int *i) {
    if (inline_value && inline_value[0]) return inline_value;
    if (*i + 1 < argc) return argv[++*i];
    fprintf(stderr, "aitbc-host: %s needs a value\n", argv[*i]);
    return NULL;
}

/* 0 to run, or the exit code to return at once (help, version, usage error). The host's own
 * options are fixed; any other --NAME names an offline command, and the plain arguments after it
 * are the command's. */
static int parse_args(int argc, char **argv, options *o, int *exit_code) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-c") == 0 || (v = long_opt(a, "config")) != NULL) {
            if (!(o->config = opt_value(strcmp(a, "-c") == 0 ? NULL : v, argc, argv, &i))) goto bad;
        } else if ((v = long_opt(a, "ready-file")) != NULL) {
            if (!(o->ready_file = opt_value(v, argc, argv, &i))) goto bad;
        } else if ((v = long_opt(a, "verify-receipt")) != NULL) {
            if (!(o->receipt = opt_value(v, argc, argv, &i))) goto bad;
        } else if ((v = long_opt(a, "public-key")) != NULL) {
            if (!(o->check.key_source = opt_value(v, argc, argv, &i))) goto bad;
        } else if ((v = long_opt(a, "payload")) != NULL) {
            if (!(o->check.payload_path = opt_value(v, argc, argv, &i))) goto bad;
        } else if ((v = long_opt(a, "result")) != NULL) {
            if (!(o->check.result_path = opt_value(v, argc, argv, &i))) goto bad;
        } else if (long_opt(a, "check-config")) {
            o->check_config = 1;
        } else if (long_opt(a, "print-config-example")) {
            o->check_config = o->print_example = 1;
        } else if (long_opt(a, "version")) {
            printf("aitbc-host %s (plugin ABI %u.%u, host API %u)\n", AITBC_HOST_VERSION,
                   AITBC_ABI_MAJOR, AITBC_ABI_MINOR, AITBC_HOST_API_VERSION);
            *exit_code = 0;
            return 1;
        } else if (strcmp(a, "-h") == 0 || long_opt(a, "help")) {
            usage(stdout);
            *exit_code = 0;
            return 1;
        } else if (strncmp(a, "--", 2) == 0 && command_name_valid(a + 2)) {
            if (o->command) {
                fprintf(stderr, "aitbc-host: one offline command at a time (%s, %s)\n", o->command,
                        a);
                goto bad;
            }
            o->command = a + 2;
        } else if (a[0] != '-' && o->command && o->command_argc < COMMAND_ARGS_MAX) {
            o->command_argv[o->command_argc++] = argv[i];
        } else {
            fprintf(stderr, "aitbc-host: %s '%s'\n",
                    a[0] == '-' ? "unknown option" : "unexpected argument", a);
            goto bad;
        }
    }
    if ((o->check.key_source || o->check.payload_path || o->check.result_path) && !o->receipt) {
        fprintf(stderr, "aitbc-host: --public-key, --payload and --result go with "
                        "--verify-receipt\n");
        goto bad;
    }
    if (o->receipt && !o->check.key_source) {
        fprintf(stderr, "aitbc-host: --verify-receipt needs --public-key FILE|URL (the "
                        "coordinator's key, e.g. http://NODE:18000)\n");
        goto bad;
    }
    if (o->receipt && (o->command || o->check_config)) {
        fprintf(stderr, "aitbc-host: --verify-receipt runs alone\n");
        goto bad;
    }
    if (!o->config && !o->receipt) {
        fprintf(stderr, "aitbc-host: -c FILE is required (e.g. -c config/minimal.yaml)\n");
        goto bad;
    }
    if (o->check_config && o->command) {
        fprintf(stderr, "aitbc-host: --%s and an offline command (--%s) exclude each other\n",
                o->print_example ? "print-config-example" : "check-config", o->command);
        goto bad;
    }
    return 0;
bad:
    usage(stderr);
    *exit_code = 2;
    return 1;
}

/* Atomically (temp file + rename) writes the ready file the test harness and scripts wait on. */
static int write_ready_file(const char *path) {
    char tmp[PATH_MAX], body[128];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int len =
        snprintf(body, sizeof body, "{\"http_port\":%d,\"ws_port\":%d,\"pid\":%ld}\n", http_port(),
                 host_settings_get()->ws_enabled ? ws_port() : 0, (long)getpid());
    if (n < 0 || n >= (int)sizeof tmp) return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    int ok = write(fd, body, (size_t)len) == len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void teardown(enum stage st) {
    if (st >= ST_HTTP) http_quiesce();
    if (st >= ST_WS) ws_stop();
    if (st >= ST_STARTED) loader_stop_all();
    if (st >= ST_BUS) {
        writer_stop(); /* after the plugins stopped: their last writes commit, events go out */
        /* before the bus closes: nothing more comes from the other hosts */
        cluster_stop();
        bus_stop();
    }
    if (st >= ST_WORK) work_stop();
    if (st >= ST_HTTP) http_stop();
    if (st >= ST_LOADED) loader_unload_all();
    if (st >= ST_STORE) {
        cluster_stop(); /* if it started and the bus did not */
        store_close();
    }
}

/* Runs the offline command --NAME: the service "command:NAME@1" some loaded plugin registered. */
static int run_command(const options *o) {
    char service[96];
    snprintf(service, sizeof service, "command:%s@1", o->command);
    const aitbc_command_v1 *cmd = services_lookup(service);
    if (!cmd || cmd->size < END_OF(aitbc_command_v1, run) || !cmd->run) {
        const char *names[32];
        size_t n = services_names("command:", names, 32);
        char list[512] = "";
        size_t len = 0;
        for (size_t i = 0; i < n && i < 32; i++) {
            int w = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
            len = w > 0 && (size_t)w < sizeof list - len ? len + (size_t)w : len;
        }
        hlog(NULL, AITBC_LOG_ERROR,
             "unknown option --%s: no loaded plugin provides %s "
             "(offline commands of the listed plugins: %s)",
             o->command, service, n ? list : "none");
        return 1;
    }
    /* Let Ctrl-C end a long offline run the ordinary way: no sockets or files to tidy. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return cmd->run(cmd->self, o->command_argc, (char **)o->command_argv);
}

static int serve_until_signal(const options *o, const sigset_t *sigs) {
    const host_settings *set = host_settings_get();
    if (o->ready_file && write_ready_file(o->ready_file) != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "cannot write the ready file %s: %s", o->ready_file,
             strerror(errno));
        return 1;
    }
    hlog(NULL, AITBC_LOG_INFO, "serving on http://%s:%d%s", set->http_host, http_port(),
         set->path_prefix);
    int sig = 0;
    while (sigwait(sigs, &sig) != 0)
        ;
    hlog(NULL, AITBC_LOG_INFO, "%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (o->ready_file) unlink(o->ready_file); /* no longer serving */
    return 0;
}

/* One line naming what runs, in start order: the first thing to check in a bug report. */
static void log_plugins(void) {
    char list[1024] = "";
    size_t n = 0;
    for (size_t i = 0; i < loader_count(); i++) {
        const aitbc_plugin_desc *d = loader_at(i)->desc;
        int w = snprintf(list + n, sizeof list - n, "%s%s %s", i ? ", " : "", d->name,
                         d->version ? d->version : "?");
        n = w > 0 && (size_t)w < sizeof list - n ? n + (size_t)w : n;
    }
    hlog(NULL, AITBC_LOG_INFO, "aitbc-host %s: %zu plugins: %s", AITBC_HOST_VERSION, loader_count(),
         n ? list : "none");
}

/* Everything after the config is valid. Returns the process exit code. */
static int run(const options *o, const host_config *cfg, const sigset_t *sigs) {
    const host_settings *set = host_settings_get();
    enum stage st = ST_NONE;
    int code = 1;
    if (host_make_dirs(set->data_dir) != 0) {
        hlog(NULL, AITBC_LOG_ERROR,
             "cannot create node.data_dir %s: %s (fix the path or its "
             "permissions)",
             set->data_dir, strerror(errno));
        return 1;
    }
    if (store_open(set) != 0) {
        if (!strcmp(set->db_driver, "postgres"))
            hlog(NULL, AITBC_LOG_ERROR, "cannot use the PostgreSQL database (see above)");
        else
            hlog(NULL, AITBC_LOG_ERROR,
                 "cannot open the database %s: check storage.path, its "
                 "permissions, and that no other host uses it",
                 set->db_path);
        goto out;
    }
    st = ST_STORE;
    /* Several hosts on one PostgreSQL: events and leader roles through a connection of its own. */
    if (strcmp(store_driver_name(), "postgres") == 0 &&
        cluster_start(set->db_dsn, set->cluster_node_id, set->cluster_poll_ms,
                      set->cluster_retention_s) != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "cannot start the cluster connection (check storage.dsn)");
        goto out;
    }
    if (work_start(set->workers) != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "cannot start %d worker threads (lower node.workers?)",
             set->workers);
        goto out;
    }
    st = ST_WORK;
    if (bus_start() != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "cannot start the event bus");
        goto out;
    }
    st = ST_BUS;
    if (writer_start() != 0) goto out;
    st = ST_LOADED; /* loader_unload_all also cleans up a half-done load */
    if (loader_load_all(cfg, set) != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "not starting: fix or remove the refused plugin");
        goto out;
    }
    log_plugins();
    if (loader_init_all() != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "not starting: a plugin failed to initialise");
        goto out;
    }
    if (o->command) {
        code = run_command(o);
        goto out;
    }
    st = ST_STARTED;
    if (loader_start_all() != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "not starting: a plugin failed to start");
        goto out;
    }
    if (http_start(set) != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "cannot listen on %s:%d (port in use? change http.listen)",
             set->http_host, set->http_port);
        goto out;
    }
    st = ST_HTTP;
    if (set->ws_enabled) {
        if (ws_start(set) != 0) {
            hlog(NULL, AITBC_LOG_ERROR,
                 "cannot listen on %s:%d for websockets (port in use? "
                 "change websocket.listen)",
                 set->ws_host, set->ws_port);
            goto out;
        }
        st = ST_WS;
    }
    code = serve_until_signal(o, sigs);
out:
    teardown(st);
    if (code == 0) hlog(NULL, AITBC_LOG_INFO, "stopped");
    return code;
}

/* The storage settings in effect; a dsn without its password. */
static void print_storage(const host_settings *set) {
    if (strcmp(set->db_driver, "postgres") != 0) {
        printf("storage: sqlite %s (synchronous %s, busy_timeout_ms %d)\n", set->db_path,
               set->db_synchronous, set->db_busy_timeout_ms);
        return;
    }
    char dsn[sizeof set->db_dsn];
    store_dsn_redacted(set->db_dsn, dsn, sizeof dsn);
    printf("storage: postgres dsn \"%s\" (pool %d, busy_timeout_ms %d)\n", dsn, set->db_pool,
           set->db_busy_timeout_ms);
}

/* --check-config: everything up to the plugins' schemas, nothing started. With
 * --print-config-example the plugins' annotated example section instead of the report. */
static int check_config(const host_config *cfg, int print_example) {
    int rc = loader_load_all(cfg, host_settings_get());
    if (rc == 0 && print_example) {
        config_print_example(stdout, cfg);
    } else if (rc == 0) {
        printf("config ok: %zu plugins\n", loader_count());
        print_storage(host_settings_get());
        loader_print_graph(stdout);
        config_print_host(stdout, cfg);
        loader_print_config(stdout);
    }
    loader_unload_all();
    return rc == 0 ? 0 : 1;
}

/* Every HTTP and WebSocket client is a descriptor; distributions start processes with a soft
 * limit of 1024, far below what a busy node holds, while the hard limit is usually much higher. */
static void raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
    rlim_t before = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        hlog(NULL, AITBC_LOG_DEBUG, "open-file limit raised from %llu to %llu",
             (unsigned long long)before, (unsigned long long)rl.rlim_max);
}

/* --verify-receipt: before any config, database or key is touched, so it works for a receipt
 * of any node from any directory and leaves nothing behind. */
static int verify_receipt(options *o) {
    o->check.receipt_path = o->receipt;
    at_verdict v;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int code = at_check_receipt(&o->check, &v);
    curl_global_cleanup();
    printf("receipt %s: %s (%s)\n", v.receipt_id, v.ok ? "OK" : "INVALID", v.reason);
    return code;
}

int main(int argc, char **argv) {
    options o = {0};
    int code = 0;
    if (parse_args(argc, argv, &o, &code)) return code;
    if (o.receipt) return verify_receipt(&o);

    /* Signals are taken by sigwait() in the main thread; every thread created later inherits
     * this mask, so none of them is interrupted. Writes to closed sockets must not kill us. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[2048];
    host_config *cfg = config_load(o.config, err, sizeof err);
    host_settings set;
    if (!cfg || config_settings(cfg, &set, err, sizeof err) != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "config error: %s", err);
        config_free(cfg);
        return 1;
    }
    hlog_apply_settings(&set);
    host_settings_set(&set);
    raise_fd_limit();

    code = o.check_config ? check_config(cfg, o.print_example) : run(&o, cfg, &sigs);
    config_free(cfg);
    return code;
}
