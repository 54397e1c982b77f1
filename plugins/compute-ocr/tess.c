/* Tesseract instances and one recognition. Loading a language takes a good part of a second, so
 * finished instances wait in a small pool, keyed by language, for the next job. Each running job
 * has an instance of its own: Tesseract is thread-safe across instances, not within one. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

#include <aitbc/json.h>
#include <aitbc/util.h>
#include "ocr.h"

#define OCR_MAX_LANGUAGES 256

typedef struct idle {
    TessBaseAPI *api;
    char lang[OCR_LANG_MAX];
} idle;

struct ocr_pool {
    pthread_mutex_t lock;
    char *tessdata_dir; /* NULL = Tesseract's default */
    int idle_max;
    int idle_n;
    idle *idles;
    char **languages; /* from Tesseract, freed with TessDeleteTextArray */
    const char *const *language_list;
};

ocr_pool *ocr_pool_new(const char *tessdata_dir, int idle_max) {
    ocr_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->idles = calloc(idle_max > 0 ? (size_t)idle_max : 1, sizeof *p->idles);
    p->tessdata_dir = tessdata_dir ? strdup(tessdata_dir) : NULL;
    if (!p->idles || (tessdata_dir && !p->tessdata_dir)) {
        free(p->idles);
        free(p);
        return NULL;
    }
    p->idle_max = idle_max;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

static void end_api(TessBaseAPI *api) {
    TessBaseAPIEnd(api);
    TessBaseAPIDelete(api);
}

void ocr_pool_free(ocr_pool *p) {
    if (!p) return;
    for (int i = 0; i < p->idle_n; i++)
        end_api(p->idles[i].api);
    if (p->languages) TessDeleteTextArray(p->languages);
    pthread_mutex_destroy(&p->lock);
    free(p->idles);
    free(p->tessdata_dir);
    free(p);
}

/* Tesseract's own diagnostics ("Estimating resolution as …", a missing traineddata file) go to
 * stderr from every instance; our error object says what went wrong instead. debug_file is one
 * process-wide parameter, not per instance: set once, before any instance runs, or concurrent
 * loads race on it (ThreadSanitizer saw it). */
static void quiet_tesseract(void) {
    TessBaseAPI *api = TessBaseAPICreate();
    if (!api) return;
    TessBaseAPISetVariable(api, "debug_file", "/dev/null");
    TessBaseAPIDelete(api);
}

static TessBaseAPI *load(ocr_pool *p, const char *lang) {
    static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
    pthread_once(&quiet_once, quiet_tesseract);
    TessBaseAPI *api = TessBaseAPICreate();
    if (!api) return NULL;
    if (TessBaseAPIInit3(api, p->tessdata_dir, lang) != 0) {
        TessBaseAPIDelete(api);
        return NULL;
    }
    pthread_mutex_lock(&p->lock);
    if (!p->languages) {
        p->languages = TessBaseAPIGetAvailableLanguagesAsVector(api);
        p->language_list = (const char *const *)p->languages;
    }
    pthread_mutex_unlock(&p->lock);
    return api;
}

void *ocr_pool_take(ocr_pool *p, const char *lang) {
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->idle_n; i++) {
        if (strcmp(p->idles[i].lang, lang) != 0) continue;
        TessBaseAPI *api = p->idles[i].api;
        p->idles[i] = p->idles[--p->idle_n];
        pthread_mutex_unlock(&p->lock);
        return api;
    }
    pthread_mutex_unlock(&p->lock);
    return load(p, lang);
}

void ocr_pool_give(ocr_pool *p, void *api, const char *lang) {
    TessBaseAPIClear(api);
    pthread_mutex_lock(&p->lock);
    if (p->idle_n < p->idle_max && strlen(lang) < OCR_LANG_MAX) {
        p->idles[p->idle_n].api = api;
        strcpy(p->idles[p->idle_n].lang, lang);
        p->idle_n++;
        api = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    if (api) end_api(api);
}

const char *const *ocr_pool_languages(ocr_pool *p) {
    pthread_mutex_lock(&p->lock);
    const char *const *l = p->language_list;
    pthread_mutex_unlock(&p->lock);
    return l;
}

/* ---- one recognition ---- */

typedef struct watch {
    const aitbc_compute_ctl *ctl;
    int64_t deadline_ms;
    ocr_outcome why;
} watch;

/* Tesseract asks this between words; true ends the recognition. */
static bool should_cancel(void *user, int words) {
    (void)words;
    watch *w = user;
    const aitbc_compute_ctl *ctl = w->ctl;
    /* The deadline first: an agent's should_stop also turns true at ctl->deadline_ms, and that
     * is a timeout, not a stop. deadline_ms is the earlier of our limit and ctl's. */
    if (w->why == OCR_RAN && aitbc_now_ms() >= w->deadline_ms) w->why = OCR_TIMED_OUT;
    if (w->why == OCR_RAN && ctl && ctl->should_stop && ctl->should_stop(ctl->user))
        w->why = OCR_STOPPED;
    return w->why != OCR_RAN;
}

/* Called whenever Tesseract's percentage grows. Decoding was the first 5%. */
static bool on_progress(ETEXT_DESC *monitor, int left, int right, int top, int bottom) {
    (void)left, (void)right, (void)top, (void)bottom;
    watch *w = TessMonitorGetCancelThis(monitor);
    const aitbc_compute_ctl *ctl = w->ctl;
    double fraction = 0.05 + 0.9 * TessMonitorGetProgress(monitor) / 100.0;
    if (ctl && ctl->progress && ctl->progress(ctl->user, fraction) && w->why == OCR_RAN)
        w->why = aitbc_now_ms() >= w->deadline_ms ? OCR_TIMED_OUT : OCR_STOPPED;
    return true;
}

static cJSON *words_of(TessBaseAPI *api) {
    cJSON *words = cJSON_CreateArray();
    TessResultIterator *it = TessBaseAPIGetIterator(api);
    if (!it) return words;
    do {
        char *text = TessResultIteratorGetUTF8Text(it, RIL_WORD);
        int x1, y1, x2, y2;
        TessPageIterator *page = TessResultIteratorGetPageIterator(it);
        if (text && aitbc_utf8_valid(text, strlen(text)) &&
            TessPageIteratorBoundingBox(page, RIL_WORD, &x1, &y1, &x2, &y2)) {
            cJSON *w = cJSON_CreateObject();
            cJSON_AddStringToObject(w, "text", text);
            aitbc_json_add_i64(w, "confidence",
                               (int64_t)lround(TessResultIteratorConfidence(it, RIL_WORD)));
            const int box[4] = {x1, y1, x2, y2};
            cJSON_AddItemToObject(w, "box", cJSON_CreateIntArray(box, 4));
            cJSON_AddItemToArray(words, w);
        }
        TessDeleteText(text);
    } while (TessResultIteratorNext(it, RIL_WORD));
    TessResultIteratorDelete(it);
    return words;
}

ocr_outcome ocr_recognize(void *handle, struct Pix *pix, int want_words,
                          const aitbc_compute_ctl *ctl, int64_t deadline_ms, cJSON **result) {
    TessBaseAPI *api = handle;
    watch w = {ctl, deadline_ms, OCR_RAN};
    ETEXT_DESC *monitor = TessMonitorCreate();
    if (!monitor) return OCR_FAILED;
    TessMonitorSetCancelFunc(monitor, should_cancel);
    TessMonitorSetCancelThis(monitor, &w);
    TessMonitorSetProgressFunc(monitor, on_progress);
    TessBaseAPISetImage2(api, pix);
    /* Images without a resolution (most PNGs) would make Tesseract guess and log about it. */
    if (pixGetXRes(pix) <= 0) TessBaseAPISetSourceResolution(api, 300);
    int rc = TessBaseAPIRecognize(api, monitor);
    TessMonitorDelete(monitor);
    if (w.why != OCR_RAN) return w.why;
    if (rc != 0) return OCR_FAILED;

    char *text = TessBaseAPIGetUTF8Text(api);
    cJSON *r = cJSON_CreateObject();
    /* Tesseract writes UTF-8; a stray invalid byte must not reach the canonical result hash. */
    cJSON_AddStringToObject(r, "text", text && aitbc_utf8_valid(text, strlen(text)) ? text : "");
    TessDeleteText(text);
    int conf = TessBaseAPIMeanTextConf(api);
    aitbc_json_add_i64(r, "confidence", conf < 0 ? 0 : conf);
    if (want_words) cJSON_AddItemToObject(r, "words", words_of(api));
    *result = r;
    return OCR_RAN;
}
