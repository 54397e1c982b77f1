/* compute-ocr: OCR jobs ({"type":"ocr","image_base64","lang"?,"words"?}) on Tesseract's C API.
 * The engine (engine.c, image.c, tess.c) needs no host: tests call it directly. */
#ifndef COMPUTE_OCR_H
#define COMPUTE_OCR_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <aitbc/compute.h>

struct Pix;

#define OCR_LANG_MAX 64

typedef struct ocr_config {
    const char *tessdata_dir; /**< NULL = Tesseract's built-in default / $TESSDATA_PREFIX */
    const char *default_lang; /**< used when the payload has no lang ("eng") */
    size_t max_input_bytes;   /**< decoded image file size limit */
    int64_t max_pixels;       /**< width × height limit, checked from the header before decoding */
    int64_t max_run_ms;       /**< wall-clock limit of one job (also bounded by ctl->deadline_ms) */
    int pool_size;            /**< idle Tesseract instances kept for reuse (0 = none) */
} ocr_config;

typedef struct ocr_engine ocr_engine;

/** Checks the tessdata directory and default language by loading them once. 0, or an AITBC_E*
 *  code with a sentence in err. */
int ocr_engine_new(const ocr_config *cfg, ocr_engine **out, char *err, size_t err_cap);
void ocr_engine_free(ocr_engine *e);
/** compute@1 run(): any number of threads at once. */
int ocr_engine_run(ocr_engine *e, const cJSON *payload, const aitbc_compute_ctl *ctl,
                   aitbc_compute_out *out);
/** compute@1 models(): ["tesseract:<lang>", ...] for every installed language. Caller frees. */
cJSON *ocr_engine_models(ocr_engine *e);

/* ---- image.c: base64 text → decoded Leptonica image, within the limits ---- */

/** Decodes standard base64 (padding optional, whitespace ignored) and then a PNG, JPEG or TIFF
 *  image. On failure fills out (error code + message) and returns a negative code. */
int ocr_image_decode(const char *base64, const ocr_config *cfg, struct Pix **pix,
                     aitbc_compute_out *out);

/* ---- tess.c: a pool of initialised Tesseract instances, and one recognition ---- */

typedef struct ocr_pool ocr_pool;
ocr_pool *ocr_pool_new(const char *tessdata_dir, int idle_max);
void ocr_pool_free(ocr_pool *p);
/** An instance initialised for lang (reused when one is idle), or NULL if lang cannot load. */
void *ocr_pool_take(ocr_pool *p, const char *lang);
/** Give an instance back (kept idle, or ended when the pool is full). */
void ocr_pool_give(ocr_pool *p, void *api, const char *lang);
/** Installed languages (NULL-terminated, borrowed for the pool's life), read from the first
 *  instance ocr_pool_take made. */
const char *const *ocr_pool_languages(ocr_pool *p);

/** Why a recognition stopped early. */
typedef enum { OCR_RAN = 0, OCR_STOPPED, OCR_TIMED_OUT, OCR_FAILED } ocr_outcome;

/** Recognises pix on api, honouring ctl (progress, should_stop, deadline) and deadline_ms.
 *  Fills result {text, confidence, words?}. Returns OCR_RAN with *result set, or why it stopped. */
ocr_outcome ocr_recognize(void *api, struct Pix *pix, int want_words, const aitbc_compute_ctl *ctl,
                          int64_t deadline_ms, cJSON **result);

#endif
