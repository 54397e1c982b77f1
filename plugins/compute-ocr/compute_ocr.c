/* compute-ocr plugin: descriptor and lifecycle. init reads the limits, loads Tesseract's default
 * language once (a bad tessdata_dir fails the start, not the first job) and registers the
 * compute@1 table as "compute:compute-ocr@1". No threads of its own: jobs run on the agent's. */
#include <stdlib.h>

#include <aitbc/aitbc.h>
#include <aitbc/compute.h>
#include "ocr.h"

#define OCR_SERVICE AITBC_COMPUTE_PREFIX "compute-ocr@1"

typedef struct ocr_plugin {
    aitbc_compute_v1 table;
    ocr_engine *engine;
} ocr_plugin;

static const aitbc_cfg_key k_schema[] = {
    {"tessdata_dir", AITBC_CFG_STRING, 0,
     "directory holding <lang>.traineddata (default: Tesseract's own, or $TESSDATA_PREFIX)",
     .def = NULL},
    {"default_lang", AITBC_CFG_STRING, 0, "language when a job names none (default \"eng\")",
     .def = NULL},
    {"max_input_bytes", AITBC_CFG_INT, 0, "largest image file accepted, bytes", .def = "10485760",
     AITBC_CFG_RANGE(1024, 1073741824)},
    {"max_pixels", AITBC_CFG_INT, 0,
     "largest width × height accepted, read from the header before decoding", .def = "25000000",
     AITBC_CFG_RANGE(1, 1073741824)},
    {"max_seconds", AITBC_CFG_INT, 0, "wall-clock limit of one job, seconds", .def = "60",
     AITBC_CFG_RANGE(1, 86400)},
    {"pool_size", AITBC_CFG_INT, 0,
     "loaded Tesseract instances kept idle for the next job (0 = load per job)", .def = "2",
     AITBC_CFG_RANGE(0, 64)},
    {0},
};

static const char *const *ocr_types(void *self) {
    (void)self;
    static const char *const types[] = {"ocr", NULL};
    return types;
}

static cJSON *ocr_models(void *self) {
    return ocr_engine_models(((ocr_plugin *)self)->engine);
}

static int ocr_run(void *self, const cJSON *payload, const aitbc_compute_ctl *ctl,
                   aitbc_compute_out *out) {
    return ocr_engine_run(((ocr_plugin *)self)->engine, payload, ctl, out);
}

/* Types, ranges and defaults are the host's (k_schema). */
static int read_config(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, ocr_config *c) {
    const cJSON *cfg = api->config(ctx);
    c->tessdata_dir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "tessdata_dir"));
    c->default_lang = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "default_lang"));
    c->max_input_bytes = (size_t)aitbc_cfg_i64(cfg, "max_input_bytes");
    c->max_pixels = aitbc_cfg_i64(cfg, "max_pixels");
    c->max_run_ms = aitbc_cfg_i64(cfg, "max_seconds") * 1000;
    c->pool_size = (int)aitbc_cfg_i64(cfg, "pool_size");
    return 0;
}

static int ocr_init(aitbc_plugin_ctx *ctx, const aitbc_host_api *api, void **state) {
    if (api->size < sizeof(aitbc_host_api)) return AITBC_EINVAL;
    ocr_config c;
    int rc = read_config(ctx, api, &c);
    if (rc != 0) return rc;
    ocr_plugin *p = calloc(1, sizeof *p);
    if (!p) return AITBC_ENOMEM;
    char err[512];
    rc = ocr_engine_new(&c, &p->engine, err, sizeof err);
    if (rc != 0) {
        api->log(ctx, AITBC_LOG_ERROR, "%s", rc == AITBC_ENOMEM ? "out of memory" : err);
        free(p);
        return rc;
    }
    p->table = (aitbc_compute_v1){sizeof p->table, p, ocr_types, ocr_models, ocr_run};
    rc = api->service_register(ctx, OCR_SERVICE, &p->table);
    if (rc != 0) {
        ocr_engine_free(p->engine);
        free(p);
        return rc;
    }
    *state = p;
    return 0;
}

static int ocr_start(void *state) {
    (void)state;
    return 0;
}

static void ocr_stop(void *state) {
    (void)state; /* no threads or timers: jobs run on the agent's threads */
}

static void ocr_destroy(void *state) {
    ocr_plugin *p = state;
    ocr_engine_free(p->engine);
    free(p);
}

static const char *const k_provides[] = {OCR_SERVICE, NULL};

static const aitbc_plugin_desc k_desc = {
    AITBC_PLUGIN_HEADER,    .name = "compute-ocr",
    .version = "1.0.0",     .description = "compute@1 backend: OCR jobs on Tesseract",
    .provides = k_provides, .config_schema = k_schema,
    .init = ocr_init,       .start = ocr_start,
    .stop = ocr_stop,       .destroy = ocr_destroy,
};

AITBC_EXPORT const aitbc_plugin_desc *aitbc_plugin_describe(void) {
    return &k_desc;
}
