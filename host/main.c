/* aitbc-host: the process. Parses the command line, loads and validates the config, brings the
 * modules up in dependency order (storage, workers, bus, plugins, sockets), serves until SIGINT or
 * SIGTERM, and takes everything down in reverse. Offline commands (--verify-chain,
 * --verify-receipt) run after plugin init without opening any socket. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

typedef struct options {
    const char *config;
    const char *ready_file;
    const char *receipt;
    int check_config;
    int verify_chain;
} options;

/* How far start-up got; teardown undoes exactly that much, in reverse. */
enum stage { ST_NONE, ST_STORE, ST_WORK, ST_BUS, ST_LOADED, ST_STARTED, ST_HTTP, ST_WS };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: aitbc-host -c FILE [options]\n"
            "  -c, --config FILE        YAML config (required)\n"
            "      --check-config       validate the config and the plugins it lists, then exit\n"
            "      --ready-file PATH    write {\"http_port\",\"ws_port\",\"pid\"} once serving\n"
            "      --verify-chain       verify the stored chain (needs the chain plugin) and exit\n"
            "      --verify-receipt F   verify a job receipt JSON file and exit\n"
            "      --version            print the version\n"
            "  -h, --help               this text\n");
}

/* 0 to run, or the exit code to return at once (help, version, usage error). */
static int parse_args(int argc, char **argv, options *o, int *exit_code)
{
    enum { O_CHECK = 256, O_READY, O_CHAIN, O_RECEIPT, O_VERSION };
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},  {"check-config", no_argument, NULL, O_CHECK},
        {"ready-file", required_argument, NULL, O_READY},
        {"verify-chain", no_argument, NULL, O_CHAIN},
        {"verify-receipt", required_argument, NULL, O_RECEIPT},
        {"version", no_argument, NULL, O_VERSION}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:h", longs, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case O_CHECK: o->check_config = 1; break;
        case O_READY: o->ready_file = optarg; break;
        case O_CHAIN: o->verify_chain = 1; break;
        case O_RECEIPT: o->receipt = optarg; break;
        case O_VERSION:
            printf("aitbc-host %s (plugin ABI %u.%u, host API %u)\n", AITBC_HOST_VERSION,
                   AITBC_ABI_MAJOR, AITBC_ABI_MINOR, AITBC_HOST_API_VERSION);
            *exit_code = 0;
            return 1;
        case 'h':
            usage(stdout);
            *exit_code = 0;
            return 1;
        case ':':
            fprintf(stderr, "aitbc-host: %s needs a value\n", argv[optind - 1]);
            goto bad;
        default:
            fprintf(stderr, "aitbc-host: unknown option %s\n", argv[optind - 1]);
            goto bad;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "aitbc-host: unexpected argument '%s'\n", argv[optind]);
        goto bad;
    }
    if (!o->config) {
        fprintf(stderr, "aitbc-host: -c FILE is required (e.g. -c config/minimal.yaml)\n");
        goto bad;
    }
    if (o->check_config + o->verify_chain + (o->receipt != NULL) > 1) {
        fprintf(stderr, "aitbc-host: --check-config, --verify-chain and --verify-receipt "
                        "exclude each other\n");
        goto bad;
    }
    return 0;
bad:
    usage(stderr);
    *exit_code = 2;
    return 1;
}

/* mkdir -p with mode 0700 for every directory it creates. */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* Atomically (temp file + rename) writes the ready file the test harness and scripts wait on. */
static int write_ready_file(const char *path)
{
    char tmp[PATH_MAX], body[128];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int len = snprintf(body, sizeof body, "{\"http_port\":%d,\"ws_port\":%d,\"pid\":%ld}\n",
                       http_port(), host_settings_get()->ws_enabled ? ws_port() : 0,
                       (long)getpid());
    if (n < 0 || n >= (int)sizeof tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int ok = write(fd, body, (size_t)len) == len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void teardown(enum stage st)
{
    if (st >= ST_HTTP)
        http_quiesce();
    if (st >= ST_WS)
        ws_stop();
    if (st >= ST_STARTED)
        loader_stop_all();
    if (st >= ST_BUS) {
        writer_stop(); /* after the plugins stopped: their last writes commit, events go out */
        bus_stop();
    }
    if (st >= ST_WORK)
        work_stop();
    if (st >= ST_HTTP)
        http_stop();
    if (st >= ST_LOADED)
        loader_unload_all();
    if (st >= ST_STORE)
        store_close();
}

/* Runs an offline command a plugin registered ("command:verify-chain@1"). */
static int run_command(const char *service, const char *plugin_hint, int argc, char **argv)
{
    const aitbc_command_v1 *cmd = services_lookup(service);
    if (!cmd || !cmd->run) {
        hlog(NULL, AITBC_LOG_ERROR, "no loaded plugin provides %s: list the %s plugin under "
             "plugins: in the config", service, plugin_hint);
        return 1;
    }
    /* Let Ctrl-C end a long offline run the ordinary way: no sockets or files to tidy. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return cmd->run(cmd->self, argc, argv);
}

static int serve_until_signal(const options *o, const sigset_t *sigs)
{
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
    if (o->ready_file)
        unlink(o->ready_file); /* no longer serving */
    return 0;
}

/* One line naming what runs, in start order: the first thing to check in a bug report. */
static void log_plugins(void)
{
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
static int run(const options *o, const host_config *cfg, const sigset_t *sigs)
{
    const host_settings *set = host_settings_get();
    enum stage st = ST_NONE;
    int code = 1;
    if (make_dirs(set->data_dir) != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "cannot create node.data_dir %s: %s (fix the path or its "
             "permissions)", set->data_dir, strerror(errno));
        return 1;
    }
    if (store_open(set) != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "cannot open the database %s: check storage.path, its "
             "permissions, and that no other host uses it", set->db_path);
        goto out;
    }
    st = ST_STORE;
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
    if (writer_start() != 0)
        goto out;
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
    if (o->verify_chain || o->receipt) {
        char *argv[2] = {(char *)o->receipt, NULL};
        code = o->verify_chain ? run_command("command:verify-chain@1", "chain", 0, argv + 1)
                               : run_command("command:verify-receipt@1", "client", 1, argv);
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
            hlog(NULL, AITBC_LOG_ERROR, "cannot listen on %s:%d for websockets (port in use? "
                 "change websocket.listen)", set->ws_host, set->ws_port);
            goto out;
        }
        st = ST_WS;
    }
    code = serve_until_signal(o, sigs);
out:
    teardown(st);
    if (code == 0)
        hlog(NULL, AITBC_LOG_INFO, "stopped");
    return code;
}

/* --check-config: everything up to the plugins' schemas, nothing started. */
static int check_config(const host_config *cfg)
{
    int rc = loader_load_all(cfg, host_settings_get());
    size_t n = loader_count();
    loader_unload_all();
    if (rc != 0)
        return 1;
    printf("config ok: %zu plugins\n", n);
    return 0;
}

/* Every HTTP and WebSocket client is a descriptor; distributions start processes with a soft
 * limit of 1024, far below what a busy node holds, while the hard limit is usually much higher. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rlim_t before = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        hlog(NULL, AITBC_LOG_DEBUG, "open-file limit raised from %llu to %llu",
             (unsigned long long)before, (unsigned long long)rl.rlim_max);
}

int main(int argc, char **argv)
{
    options o = {0};
    int code = 0;
    if (parse_args(argc, argv, &o, &code))
        return code;

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
    aitbc_log_level level = AITBC_LOG_INFO;
    hlog_parse_level(set.log_level, &level);
    hlog_set_level(level);
    host_settings_set(&set);
    raise_fd_limit();

    code = o.check_config ? check_config(cfg) : run(&o, cfg, &sigs);
    config_free(cfg);
    return code;
}
