/* Integration-test harness: starts the real aitbc-host binary with real plugins on 127.0.0.1
 * ephemeral ports and a temp data dir, and speaks real HTTP (libcurl) to it. */
#ifndef AITBC_TEST_HARNESS_H
#define AITBC_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

typedef struct th_host th_host;

/** Start aitbc-host. plugins_yaml is the text of the `plugins:` section body, indented two
 *  spaces per plugin, e.g. "  hello: {}\n  auth-static: { keys: [...] }\n". extra_yaml (may be
 *  NULL) is appended at top level (e.g. "websocket: { listen: \"127.0.0.1:0\" }\n").
 *  The harness writes node/http/storage sections itself (temp dir, 127.0.0.1:0, plugin_path =
 *  the build's plugin dir plus AITBC_TEST_PLUGIN_PATH). Waits until the host says it is ready
 *  (--ready-file). Returns NULL (and prints the host's stderr) if it exits instead. */
th_host *th_start(const char *plugins_yaml, const char *extra_yaml);
/** Same, reusing an existing data dir (restart tests). dir is copied. */
th_host *th_start_in(const char *data_dir, const char *plugins_yaml, const char *extra_yaml);
/** Start a second host of peer's node: its own temp data dir, ports and log, but peer's
 *  database (peer's schema on PostgreSQL, peer's file on SQLite) and a copy of peer's node
 *  secrets (auth.pepper, node.key), as hosts behind one load balancer have. NULL as th_start. */
th_host *th_start_beside(const th_host *peer, const char *plugins_yaml, const char *extra_yaml);
/** Send sig to the host and return at once (e.g. SIGTERM, then watch it drain). 0, or -1 if it
 *  is not running. th_stop / th_kill wait for it. */
int th_signal(th_host *h, int sig);
/** SIGKILL (a crash: nothing is flushed or closed), wait, and return the exit status
 *  (128 + SIGKILL). Keeps the data dir for th_restart. */
int th_kill(th_host *h);
/** Start the host again in its data dir with the same plugins and extra YAML, after th_stop or
 *  th_kill (stops it first if it still runs). same_port: listen on the HTTP port it had (unless
 *  extra_yaml has its own http section), so peers configured with its URL reach it again.
 *  0, or -1 when it did not come up (its stderr is printed). */
int th_restart(th_host *h, int same_port);
/** Run aitbc-host once to completion with a config written as th_start writes it (a storage
 *  or http section in extra_yaml replaces the harness's own) plus the
 *  extra arguments (NULL-terminated, e.g. {"--check-config", NULL}): for commands that exit by
 *  themselves. Returns the exit status (-1 if it could not run); *output (may be NULL) gets
 *  everything it printed, malloc'd. */
int th_run_once(const char *plugins_yaml, const char *extra_yaml, const char *const *args,
                char **output);
/** Same in an existing data dir (a command on a node's database); the dir stays. */
int th_run_once_in(const char *data_dir, const char *plugins_yaml, const char *extra_yaml,
                   const char *const *args, char **output);
/** SIGTERM, wait, and return the exit status (0 = clean). Does not delete the data dir. */
int th_stop(th_host *h);
/** th_stop + remove the temp dir + free. */
void th_free(th_host *h);
/** th_stop + th_free, and *h = NULL: a test group's teardown. 0 when the host stopped cleanly
 *  (exit 0), -1 otherwise. */
int th_end(th_host **h);
/** th_stop + free, keeping the data dir (a restart in it follows). */
void th_forget(th_host *h);

int th_http_port(const th_host *h);
/** 1 when AITBC_TEST_PG_DSN is set: hosts run on PostgreSQL, each data dir in its own schema
 *  (a test that opens the SQLite file itself skips then). */
int th_on_postgres(void);
/** The integer a one-row query returns from h's database, as another process sees it (committed
 *  rows only); sql may have one `?`, bound to arg as text. -1 on error (printed). */
int th_db_count(const th_host *h, const char *sql, const char *arg);
/** On PostgreSQL: a new libpq session on h's schema (the caller PQfinish-es it), for a test that
 *  plays another host holding row locks; NULL otherwise (or on error, printed). */
struct pg_conn *th_pg_session(const th_host *h);
/** On PostgreSQL: end every server session of h's host (as a server restart or a network cut
 *  would), and of hosts started beside it (they share its schema and session name); the number
 *  ended, or -1 (not on PostgreSQL, or an error, printed). */
int th_pg_terminate(const th_host *h);
int th_ws_port(const th_host *h); /* 0 if no websocket section */
const char *th_data_dir(const th_host *h);
/** The host's process id while it runs (0 after it was reaped): for benches that read its
 *  /proc/<pid>/stat. */
int th_pid(const th_host *h);
/** Everything the host wrote to stderr so far (malloc'd; caller frees). */
char *th_stderr(const th_host *h);

typedef struct th_resp {
    long status;
    char *body; /* NUL-terminated */
    size_t body_len;
    cJSON *json;   /* parsed body or NULL */
    char *headers; /* raw response headers */
} th_resp;

/** One HTTP request. api_key may be NULL (no header); body may be NULL (no body). JSON bodies
 *  get Content-Type: application/json. extra_headers: NULL-terminated "Name: value" list or NULL.
 *  Returns 0 when a response arrived. */
int th_req(th_host *h, const char *method, const char *path, const char *api_key, const char *body,
           th_resp *out);
int th_req_ex(th_host *h, const char *method, const char *path, const char *api_key,
              const char *body, const char *const *extra_headers, th_resp *out);
void th_resp_free(th_resp *r);
/** Response header value (case-insensitive name) copied into out, or NULL. */
const char *th_resp_header(const th_resp *r, const char *name, char *out, size_t cap);
/** The "error.code" of an error body, or NULL. Borrowed from r->json. */
const char *th_error_code(const th_resp *r);

/* ---- raw TCP, for what libcurl hides or refuses to send (status lines of malformed requests,
 * pipelined or half-sent requests, WebSocket frames by hand) ---- */

/** A TCP socket connected to 127.0.0.1:port, or -1. */
int th_tcp(int port);
/** Send all len bytes (no SIGPIPE). 0, or -1 when the peer closed or reset first. */
int th_send_all(int fd, const void *data, size_t len);
/** th_raw_read modes */
enum { TH_UNTIL_EOF = 0, TH_HTTP_RESPONSE = 1, TH_FIRST_DATA = 2 };
/** 1 once buf holds a whole HTTP response head plus the body its Content-Length announces. */
int th_http_complete(const char *buf, size_t got);
/** Read into buf (NUL-terminated) until timeout_ms, EOF or full; TH_HTTP_RESPONSE stops after
 *  one whole HTTP response, TH_FIRST_DATA after the first bytes. Returns bytes read, -1 if none. */
long th_raw_read(int fd, char *buf, size_t cap, int timeout_ms, int mode);

/** Poll cond(arg) every few ms until true or timeout_ms passes. 1 if it became true. */
int th_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms);

/** The value of an unlabelled series in the host's GET /metrics (public from loopback), or -1
 *  when the request fails or the series is missing. */
double th_metric(th_host *h, const char *name);

#endif
