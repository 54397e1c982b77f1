/* compute-ollama: "inference" jobs ({"type":"inference","model","prompt","max_tokens"?,...})
 * streamed from an Ollama-compatible server's /api/generate; models from /api/tags. The engine
 * (payload.c, stream.c, client.c) needs no host: tests call it directly. */
#ifndef COMPUTE_OLLAMA_H
#define COMPUTE_OLLAMA_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <aitbc/compute.h>

typedef struct ollama_config {
    const char *url;     /**< server base URL, "http://127.0.0.1:11434" */
    const cJSON *models; /**< array of model names served, or NULL = whatever /api/tags lists */
    int64_t connect_timeout_ms; /**< reaching the server */
    int64_t idle_timeout_ms;    /**< longest silence within a stream */
    int64_t max_run_ms; /**< wall-clock limit of one job (also bounded by ctl->deadline_ms) */
    int64_t max_tokens_default; /**< when the payload has no max_tokens */
    int64_t max_tokens_limit;   /**< largest max_tokens a payload may ask for */
    size_t max_prompt_bytes;
    size_t max_output_bytes; /**< generated text larger than this fails the job */
} ollama_config;

/* ---- payload.c: a hostile payload → the /api/generate request body ---- */

/** Checks payload and builds the request body ({model, prompt, stream:true, options{num_predict,
 *  ...}}). On failure fills out and returns a negative code. *max_tokens gets the token budget. */
int ollama_request_body(const ollama_config *cfg, const cJSON *payload, char **body,
                        int64_t *max_tokens, aitbc_compute_out *out);

/** 1 if cfg serves model (no cfg->models list = every model). */
int ollama_serves(const ollama_config *cfg, const char *model);

/* ---- stream.c: the NDJSON answer, fed in whatever pieces the network delivers ---- */

typedef enum {
    OLLAMA_MORE = 0,     /**< keep feeding */
    OLLAMA_DONE,         /**< a line with "done": true arrived */
    OLLAMA_SERVER_ERROR, /**< a line with "error" arrived (message in error) */
    OLLAMA_BAD_LINE,     /**< a line that is not a JSON object of the expected shape */
    OLLAMA_TOO_LARGE,    /**< the text or one line passed its limit */
} ollama_feed;

typedef struct ollama_stream {
    char *text; /* generated so far, NUL-terminated */
    size_t text_len, text_cap, text_max;
    char *line; /* the incomplete line */
    size_t line_len, line_cap;
    int64_t chunks;     /* lines with response text: progress before the final count arrives */
    int64_t eval_count; /* from the final line, -1 until then */
    char error[256];    /* server's error message, or what was wrong with a line */
    int done;
} ollama_stream;

void ollama_stream_init(ollama_stream *s, size_t max_text);
void ollama_stream_free(ollama_stream *s);
ollama_feed ollama_stream_feed(ollama_stream *s, const char *data, size_t len);
/** The stream ended: a last line without a newline is taken as complete. */
ollama_feed ollama_stream_finish(ollama_stream *s);

/* ---- client.c: the HTTP side ---- */

/** compute@1 run(): one generation. Any thread; any number at once. */
int ollama_run(const ollama_config *cfg, const cJSON *payload, const aitbc_compute_ctl *ctl,
               aitbc_compute_out *out);
/** compute@1 models(): names from /api/tags (filtered by cfg->models), or NULL when the server
 *  cannot be asked. Caller frees. */
cJSON *ollama_models(const ollama_config *cfg);

#endif
