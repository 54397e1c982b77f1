/* compute-exec plugin: descriptor and lifecycle. init parses and checks the command list and
 * registers the compute@1 table as "compute:compute-exec@1". No threads of its own: each job runs
 * (and supervises its command) on one of the agent's job threads. */
#include <stdlib.h>

#include <aitbc/aitbc.h>
#include <aitbc/compute.h>
#include "exec.h"

#define EXEC_SERVICE AITBC_COMPUTE_PREFIX "compute-exec@1"

typedef struct exec_plugin {
    aitbc_compute_v1 table;
    exec_set set;
} exec_plugin;

static const aitbc_cfg_key k_schema[] = {
    {"commands", AITBC_CFG_ARRAY, 1,
     "list of {type, argv, timeout_s (60), max_output_bytes (1048576), memory_mb (1024, 0 = no "
     "limit), env ({}), cwd (\"/\"), unit_type (job | second)}: payload.type → command",
     .def = NULL},
    {0},
};

static const char *const *exec_types(void *self) {
    return ((exec_plugin *)self)->set.types;
}

static cJSON *exec_models(void *self) {
    (void)self;
    return cJSON_CreateArray(); /* commands serve job types, not models */
}

static int exec_job(void *self, const cJSON *payload, const aitbc_compute_ctl *ctl,
                    aitbc_compute_out *out) {
    exec_plugin *p = self;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "type"));
    const exec_command *c = type ? exec_set_find(&p->set, type) : NULL;
    if (!c)
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                                  "no command is configured for this job type");
    return exec_run(c, payload, ctl, out);
}

static int exec_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (api->size < sizeof(aitbc_host_api)) return AITBC_EINVAL;
    exec_plugin *p = calloc(1, sizeof *p);
    if (!p) return AITBC_ENOMEM;
    char err[512];
    int rc = exec_set_parse(api->config(ctx), &p->set, err, sizeof err);
    if (rc != 0) {
        api->log(ctx, AITBC_LOG_ERROR, "compute-exec.%s", err);
        free(p);
        return rc;
    }
    p->table = (aitbc_compute_v1){sizeof p->table, p, exec_types, exec_models, exec_job};
    rc = api->service_register(ctx, EXEC_SERVICE, &p->table);
    if (rc != 0) {
        exec_set_free(&p->set);
        free(p);
        return rc;
    }
    for (size_t i = 0; i < p->set.n; i++)
        api->log(ctx, AITBC_LOG_INFO, "job type %s runs %s", p->set.commands[i].type,
                 p->set.commands[i].argv[0]);
    *state = p;
    return 0;
}

static int exec_start(void *state) {
    (void)state;
    return 0;
}

static void exec_stop(void *state) {
    (void)state; /* jobs run on the agent's threads, which it joins before we are stopped */
}

static void exec_destroy(void *state) {
    exec_plugin *p = state;
    exec_set_free(&p->set);
    free(p);
}

static const char *const k_provides[] = {EXEC_SERVICE, NULL};

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,
    .name = "compute-exec",
    .version = "1.0.0",
    .description = "compute@1 backend: job types mapped to operator commands",
    .provides = k_provides,
    .config_schema = k_schema,
    .init = exec_init,
    .start = exec_start,
    .stop = exec_stop,
    .destroy = exec_destroy,
};

AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
