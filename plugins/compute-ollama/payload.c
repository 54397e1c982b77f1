/* The inference payload, checked field by field, becomes the body sent to /api/generate. */
#include <stdlib.h>
#include <string.h>

#include <aitbc/errors.h>
#include <aitbc/json.h>
#include "ollama.h"

#define MODEL_NAME_MAX 256
#define STOP_MAX 8

static const char *const k_fields[] = {"type",   "model",       "prompt", "max_tokens",
                                       "system", "temperature", "top_p",  "top_k",
                                       "seed",   "stop",        NULL};

static int bad(aitbc_compute_out *out, const char *message) {
    return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload", "%s", message);
}

int ollama_serves(const ollama_config *cfg, const char *model) {
    if (!cfg->models) return 1;
    const cJSON *m;
    cJSON_ArrayForEach(m, cfg->models) if (cJSON_IsString(m) &&
                                           strcmp(m->valuestring, model) == 0) return 1;
    return 0;
}

/* Copies the optional sampling fields into options, each range-checked. */
static int sampling(const cJSON *payload, cJSON *options, aitbc_compute_out *out) {
    static const struct {
        const char *key;
        double lo, hi;
        int integer;
    } nums[] = {{"temperature", 0, 2, 0},
                {"top_p", 0, 1, 0},
                {"top_k", 1, 1000, 1},
                {"seed", 0, 4294967295.0, 1}};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, nums[i].key);
        if (!v) continue;
        int64_t n;
        if (!cJSON_IsNumber(v) || v->valuedouble < nums[i].lo || v->valuedouble > nums[i].hi ||
            (nums[i].integer && aitbc_json_int(v, &n) != 0))
            return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                                      "%s must be a%s number in %g..%g", nums[i].key,
                                      nums[i].integer ? "n integer" : "", nums[i].lo, nums[i].hi);
        cJSON_AddItemToObject(options, nums[i].key, cJSON_Duplicate(v, 0));
    }
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(payload, "stop");
    if (stop) {
        int n = cJSON_IsArray(stop) ? cJSON_GetArraySize(stop) : -1;
        const cJSON *s;
        cJSON_ArrayForEach(s, stop) if (!cJSON_IsString(s) || !s->valuestring[0] ||
                                        strlen(s->valuestring) > 64) n = -1;
        if (n < 0 || n > STOP_MAX)
            return bad(out, "stop must be a list of at most 8 strings of 1..64 bytes");
        cJSON_AddItemToObject(options, "stop", cJSON_Duplicate(stop, 1));
    }
    return 0;
}

int ollama_request_body(const ollama_config *cfg, const cJSON *payload, char **body,
                        int64_t *max_tokens, aitbc_compute_out *out) {
    if (!cJSON_IsObject(payload)) return bad(out, "the payload must be a JSON object");
    const char *unknown = aitbc_json_unknown_key(payload, k_fields);
    if (unknown)
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                                  "unknown field '%.64s' (inference takes model, prompt, "
                                  "max_tokens, system, temperature, top_p, top_k, seed, stop)",
                                  unknown);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(payload, "model");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(payload, "prompt");
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(payload, "system");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(payload, "max_tokens");
    if (!cJSON_IsString(model) || !model->valuestring[0] ||
        strlen(model->valuestring) > MODEL_NAME_MAX)
        return bad(out, "model must be a model name such as \"llama3.2:3b\"");
    if (!cJSON_IsString(prompt) || !prompt->valuestring[0])
        return bad(out, "prompt must be a non-empty string");
    size_t prompt_len = strlen(prompt->valuestring);
    if (system && !cJSON_IsString(system)) return bad(out, "system must be a string");
    if (system) prompt_len += strlen(system->valuestring);
    if (prompt_len > cfg->max_prompt_bytes)
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "prompt_too_large",
                                  "prompt and system are %zu bytes; this miner takes %zu",
                                  prompt_len, cfg->max_prompt_bytes);
    *max_tokens = cfg->max_tokens_default;
    if (max && (aitbc_json_int(max, max_tokens) != 0 || *max_tokens < 1 ||
                *max_tokens > cfg->max_tokens_limit))
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                                  "max_tokens must be an integer in 1..%lld",
                                  (long long)cfg->max_tokens_limit);
    if (!ollama_serves(cfg, model->valuestring))
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "model_not_found",
                                  "model '%.256s' is not served by this miner", model->valuestring);

    cJSON *req = cJSON_CreateObject();
    cJSON *options = cJSON_CreateObject();
    int rc = sampling(payload, options, out);
    if (rc != 0) {
        cJSON_Delete(options);
        cJSON_Delete(req);
        return rc;
    }
    cJSON_AddStringToObject(req, "model", model->valuestring);
    cJSON_AddStringToObject(req, "prompt", prompt->valuestring);
    if (system) cJSON_AddStringToObject(req, "system", system->valuestring);
    cJSON_AddBoolToObject(req, "stream", 1);
    aitbc_json_add_i64(options, "num_predict", *max_tokens);
    cJSON_AddItemToObject(req, "options", options);
    *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (!*body) return aitbc_compute_fail(out, AITBC_ENOMEM, 1, "out_of_memory", "out of memory");
    return 0;
}
