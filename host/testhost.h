/* The host in library mode, for plugin unit tests and benches: one host per process, run from a
 * config file like aitbc-host's, without HTTP, WebSocket or signals. Plugins listed under
 * `plugins:` come from the descriptors the caller links in (found by name) or else from
 * <name>.so in node.plugin_path; the loader checks, orders, fills defaults and runs their
 * lifecycle exactly as the real host does. Only SDK types cross this header: a test drives a
 * plugin through the API table, its services and (for a linked plugin) its own state. */
#ifndef AITBC_TESTHOST_H
#define AITBC_TESTHOST_H

#include "aitbc/aitbc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aitbc_testhost aitbc_testhost;

/** Flags of aitbc_testhost_start. */
enum {
    AITBC_TESTHOST_INIT_ONLY = 1, /**< init the plugins but do not start them (no routes, timers) */
};

/** Starts the host from the config file at config_path: storage, workers, bus, writer, then every
 *  listed plugin's init (and start unless AITBC_TESTHOST_INIT_ONLY). linked: NULL-terminated
 *  descriptors compiled into the caller, or NULL. Logs at node.log_level to stderr. NULL on any
 *  failure (the reason is logged; everything started is stopped again). */
aitbc_testhost *aitbc_testhost_start(const char *config_path,
                                     const aitbc_plugin_desc *const *linked, unsigned flags);
/** The host API table plugins get. */
const aitbc_host_api *aitbc_testhost_api(const aitbc_testhost *h);
/** The state a loaded plugin's init returned (its own struct for a linked plugin), or NULL. */
void *aitbc_testhost_state(const aitbc_testhost *h, const char *plugin);
/** A registered service table ("ledger@1"), or NULL. */
const void *aitbc_testhost_service(const aitbc_testhost *h, const char *name);
/** Stops the plugins and the host in the real host's order and frees h. NULL is a no-op. */
void aitbc_testhost_stop(aitbc_testhost *h);

/** Longest path aitbc_testhost_temp_config writes, NUL included. */
#define AITBC_TESTHOST_PATH_MAX 512

/** A config for a test in a fresh directory under /tmp: makes dir (mkdtemp) and writes
 *  dir/config.yaml, its path to path, with node.data_dir = dir, storage.path = dir/aitbc.db, then
 *  node_extra inside node: (more keys, e.g. "log_level: warn"; NULL = none) and sections as the
 *  rest of the file ("plugins:\n  chain: {}\n"; NULL = no plugins). 0, or -1 (nothing left). */
int aitbc_testhost_temp_config(char dir[AITBC_TESTHOST_PATH_MAX],
                               char path[AITBC_TESTHOST_PATH_MAX], const char *node_extra,
                               const char *sections);
/** Removes a directory aitbc_testhost_temp_config made, with everything in it. 0 or -1. */
int aitbc_testhost_temp_remove(const char *dir);

#ifdef __cplusplus
}
#endif

#endif
