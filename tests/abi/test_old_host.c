/* A plugin built against today's SDK (ABI 1.3) in a host that speaks only 1.0: refused, with the
 * file and the reason, before any of its code runs. The real loader and config code, with the
 * loader's minor lowered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"

static char g_dir[64];

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Loads a config listing abi-good with the loader at host_minor; stderr goes to err_path. */
static int load_with_minor(unsigned host_minor, const char *err_path) {
    char cfg_path[128];
    snprintf(cfg_path, sizeof cfg_path, "%s/c.yaml", g_dir);
    FILE *f = fopen(cfg_path, "w");
    assert_non_null(f);
    fprintf(f,
            "node: { data_dir: \"%s/data\", plugin_path: \"%s\" }\n"
            "plugins:\n  abi-good: { greeting: hi }\n",
            g_dir, ABI_PLUGIN_DIR);
    fclose(f);
    char err[1024];
    host_config *cfg = config_load(cfg_path, err, sizeof err);
    assert_non_null(cfg);
    host_settings set;
    assert_int_equal(config_settings(cfg, &set, err, sizeof err), 0);
    fflush(stderr);
    int saved = dup(2);
    FILE *e = freopen(err_path, "w", stderr);
    assert_non_null(e);
    loader_pretend_abi_minor(host_minor);
    int rc = loader_load_all(cfg, &set);
    loader_unload_all();
    loader_pretend_abi_minor(AITBC_ABI_MINOR);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    config_free(cfg);
    return rc;
}

static void test_refused_by_a_1_0_host(void **s) {
    char err_path[128];
    snprintf(err_path, sizeof err_path, "%s/err", g_dir);
    assert_int_not_equal(load_with_minor(0, err_path), 0);
    const char *e = slurp(err_path);
    if (!strstr(e, "abi-good.so: refused: ABI minor version 1.3 is newer than this host's 1.0 "
                   "(upgrade the host)"))
        fail_msg("unexpected log:\n%s", e);
    /* The same plugin loads in a host of its own minor. */
    assert_int_equal(load_with_minor(AITBC_ABI_MINOR, err_path), 0);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/aitbc-oldhost-XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_refused_by_a_1_0_host)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) rc = rc ? rc : 1;
    return rc;
}
