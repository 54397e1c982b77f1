/* One OCR job: check the payload, decode the image within the limits, recognise it on a pooled
 * Tesseract instance, bill it by the megapixel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include <aitbc/errors.h>
#include <aitbc/json.h>
#include <aitbc/util.h>
#include "ocr.h"

struct ocr_engine {
    ocr_config cfg;
    char *tessdata_dir;
    char default_lang[OCR_LANG_MAX];
    ocr_pool *pool;
};

int ocr_engine_new(const ocr_config *cfg, ocr_engine **out, char *err, size_t err_cap) {
    ocr_engine *e = calloc(1, sizeof *e);
    if (!e) return AITBC_ENOMEM;
    e->cfg = *cfg;
    e->tessdata_dir = cfg->tessdata_dir ? strdup(cfg->tessdata_dir) : NULL;
    e->cfg.tessdata_dir = e->tessdata_dir;
    snprintf(e->default_lang, sizeof e->default_lang, "%s",
             cfg->default_lang ? cfg->default_lang : "eng");
    e->cfg.default_lang = e->default_lang;
    /* Leptonica reports a corrupt image on stderr; the job's error object says it instead. */
    setMsgSeverity(L_SEVERITY_NONE);
    e->pool = ocr_pool_new(e->tessdata_dir, cfg->pool_size);
    if (!e->pool || (cfg->tessdata_dir && !e->tessdata_dir)) {
        ocr_engine_free(e);
        return AITBC_ENOMEM;
    }
    /* Load the default language now: a wrong tessdata_dir or a missing language is a start-up
     * error the operator sees, not a failure of the first job. The instance stays pooled. */
    void *api = ocr_pool_take(e->pool, e->default_lang);
    if (!api) {
        snprintf(err, err_cap,
                 "cannot load Tesseract language '%s' from %s (install tesseract-ocr-%s or set "
                 "tessdata_dir)",
                 e->default_lang, e->tessdata_dir ? e->tessdata_dir : "the default tessdata dir",
                 e->default_lang);
        ocr_engine_free(e);
        return AITBC_EINVAL;
    }
    ocr_pool_give(e->pool, api, e->default_lang);
    *out = e;
    return 0;
}

void ocr_engine_free(ocr_engine *e) {
    if (!e) return;
    ocr_pool_free(e->pool);
    free(e->tessdata_dir);
    free(e);
}

static int installed(ocr_engine *e, const char *lang, size_t len) {
    const char *const *langs = ocr_pool_languages(e->pool);
    for (size_t i = 0; langs && langs[i]; i++)
        if (strlen(langs[i]) == len && memcmp(langs[i], lang, len) == 0) return 1;
    return 0;
}

/* lang is one installed language or several joined by '+' ("eng+deu"). Checked against the
 * installed list, so the name never reaches Tesseract's file lookup unchecked. */
static int lang_ok(ocr_engine *e, const char *lang) {
    size_t n = strlen(lang);
    if (n == 0 || n >= OCR_LANG_MAX) return 0;
    for (const char *p = lang;;) {
        const char *plus = strchr(p, '+');
        size_t len = plus ? (size_t)(plus - p) : strlen(p);
        if (len == 0 || !installed(e, p, len)) return 0;
        if (!plus) return 1;
        p = plus + 1;
    }
}

cJSON *ocr_engine_models(ocr_engine *e) {
    cJSON *models = cJSON_CreateArray();
    const char *const *langs = ocr_pool_languages(e->pool);
    for (size_t i = 0; langs && langs[i]; i++) {
        if (strcmp(langs[i], "osd") == 0) continue; /* orientation data, not a language */
        char name[OCR_LANG_MAX + 16];
        snprintf(name, sizeof name, "tesseract:%s", langs[i]);
        cJSON_AddItemToArray(models, cJSON_CreateString(name));
    }
    return models;
}

static const char *const k_fields[] = {"type", "image_base64", "lang", "words", NULL};

int ocr_engine_run(ocr_engine *e, const cJSON *payload, const aitbc_compute_ctl *ctl,
                   aitbc_compute_out *out) {
    const int64_t started = aitbc_now_ms();
    if (!cJSON_IsObject(payload))
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                                  "the payload must be a JSON object");
    const char *unknown = aitbc_json_unknown_key(payload, k_fields);
    if (unknown)
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                                  "unknown field '%.64s' (ocr takes image_base64, lang, words)",
                                  unknown);
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(payload, "image_base64");
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(payload, "lang");
    const cJSON *words = cJSON_GetObjectItemCaseSensitive(payload, "words");
    if (!cJSON_IsString(image) || !image->valuestring[0])
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                                  "image_base64 must be a non-empty string");
    if (lang && !cJSON_IsNull(lang) && !cJSON_IsString(lang))
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                                  "lang must be a string such as \"eng\" or \"eng+deu\"");
    if (words && !cJSON_IsNull(words) && !cJSON_IsBool(words))
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                                  "words must be true or false");
    const char *lang_name = cJSON_IsString(lang) ? lang->valuestring : e->default_lang;
    if (!lang_ok(e, lang_name))
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "unknown_language",
                                  "language '%.64s' is not installed on this miner (see its "
                                  "tesseract:<lang> models)",
                                  lang_name);

    struct Pix *pix = NULL;
    int rc = ocr_image_decode(image->valuestring, &e->cfg, &pix, out);
    if (rc != 0) return rc;
    const int64_t pixels = (int64_t)pixGetWidth(pix) * pixGetHeight(pix);
    if (ctl && ctl->progress) ctl->progress(ctl->user, 0.05);

    void *api = ocr_pool_take(e->pool, lang_name);
    if (!api) {
        pixDestroy(&pix);
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "unknown_language",
                                  "language '%.64s' could not be loaded", lang_name);
    }
    int64_t deadline = aitbc_compute_deadline(ctl, started, e->cfg.max_run_ms);
    cJSON *result = NULL;
    ocr_outcome why = ocr_recognize(api, pix, cJSON_IsTrue(words), ctl, deadline, &result);
    ocr_pool_give(e->pool, api, lang_name);
    pixDestroy(&pix);
    switch (why) {
    case OCR_RAN:
        break;
    case OCR_STOPPED:
        return aitbc_compute_fail(out, AITBC_EUNAVAIL, 1, "stopped",
                                  "the job was stopped before recognition finished");
    case OCR_TIMED_OUT:
        return aitbc_compute_fail(out, AITBC_EUNAVAIL, 0, "timeout",
                                  "recognition did not finish within %lld ms",
                                  (long long)(deadline - started));
    case OCR_FAILED:
        return aitbc_compute_fail(out, AITBC_EIO, 1, "ocr_failed",
                                  "Tesseract could not recognise the image");
    }
    out->result = result;
    out->units = (pixels + 999999) / 1000000; /* started megapixels */
    out->unit_type = "megapixel";
    return 0;
}
