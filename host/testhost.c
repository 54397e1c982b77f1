/* Library mode: the host's start and teardown sequence (main.c's run) without the network, for
 * tests and benches that drive plugins in process. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testhost.h"

struct aitbc_testhost {
    host_config *cfg;
    int store, work, bus, writer, loaded, started;
};

aitbc_testhost *aitbc_testhost_start(const char *config_path,
                                     const aitbc_plugin_desc *const *linked, unsigned flags) {
    aitbc_testhost *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    char err[2048];
    host_settings set;
    if (!(h->cfg = config_load(config_path, err, sizeof err)) ||
        config_settings(h->cfg, &set, err, sizeof err) != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "config error: %s", err);
        goto fail;
    }
    hlog_apply_settings(&set);
    host_settings_set(&set);
    if (host_make_dirs(set.data_dir) != 0) {
        hlog(NULL, AITBC_LOG_ERROR, "cannot create node.data_dir %s", set.data_dir);
        goto fail;
    }
    if (!(h->store = store_open(&set) == 0) || !(h->work = work_start(set.workers) == 0) ||
        !(h->bus = bus_start() == 0) || !(h->writer = writer_start() == 0))
        goto fail;
    loader_set_linked(linked);
    h->loaded = 1; /* loader_unload_all also cleans up a half-done load */
    if (loader_load_all(h->cfg, host_settings_get()) != 0 || loader_init_all() != 0) goto fail;
    if (!(flags & AITBC_TESTHOST_INIT_ONLY)) {
        h->started = 1;
        if (loader_start_all() != 0) goto fail;
    }
    return h;
fail:
    aitbc_testhost_stop(h);
    return NULL;
}

const aitbc_host_api *aitbc_testhost_api(const aitbc_testhost *h) {
    return h ? host_api() : NULL;
}

void *aitbc_testhost_state(const aitbc_testhost *h, const char *plugin) {
    for (size_t i = 0; h && plugin && i < loader_count(); i++) {
        aitbc_plugin_ctx *c = loader_at(i);
        if (strcmp(c->desc->name, plugin) == 0) return c->state;
    }
    return NULL;
}

const void *aitbc_testhost_service(const aitbc_testhost *h, const char *name) {
    return h ? services_lookup(name) : NULL;
}

void aitbc_testhost_stop(aitbc_testhost *h) {
    if (!h) return;
    if (h->started) loader_stop_all();
    if (h->writer) writer_stop(); /* after the plugins stopped: their last writes commit */
    if (h->bus) bus_stop();
    if (h->work) work_stop();
    if (h->loaded) loader_unload_all();
    loader_set_linked(NULL);
    if (h->store) store_close();
    config_free(h->cfg);
    free(h);
}

int aitbc_testhost_temp_config(char dir[AITBC_TESTHOST_PATH_MAX],
                               char path[AITBC_TESTHOST_PATH_MAX], const char *node_extra,
                               const char *sections) {
    snprintf(dir, AITBC_TESTHOST_PATH_MAX, "/tmp/aitbc-test-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, AITBC_TESTHOST_PATH_MAX, "%s/config.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        rmdir(dir);
        return -1;
    }
    fprintf(f, "node: { data_dir: \"%s\"%s%s }\nstorage: { path: \"%s/aitbc.db\" }\n%s", dir,
            node_extra ? ", " : "", node_extra ? node_extra : "", dir,
            sections ? sections : "plugins: {}\n");
    if (fclose(f) != 0) {
        aitbc_testhost_temp_remove(dir);
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

int aitbc_testhost_temp_remove(const char *dir) {
    /* Only what aitbc_testhost_temp_config made: a wrong path must not empty anything else. */
    if (!dir || strncmp(dir, "/tmp/aitbc-test-", 16) != 0 || strstr(dir, "..")) return -1;
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}
