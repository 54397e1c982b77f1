/* compute-exec: the operator maps job types to commands (argv, no shell). A job's payload goes to
 * the command's stdin as canonical JSON; the JSON object it prints on stdout is the result. The
 * engine (config.c, run.c) needs no host: tests call it directly. */
#ifndef COMPUTE_EXEC_H
#define COMPUTE_EXEC_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <aitbc/compute.h>

#define EXEC_TYPE_MAX 64

typedef struct exec_command {
    char type[EXEC_TYPE_MAX]; /**< payload.type this command serves */
    char **argv;              /**< NULL-terminated; argv[0] is an absolute path */
    char **envp;              /**< the whole environment of the command, NULL-terminated */
    char *cwd;                /**< working directory */
    int64_t timeout_ms;       /**< wall-clock limit (also bounded by ctl->deadline_ms) */
    size_t max_output_bytes;  /**< stdout larger than this fails the job */
    int64_t memory_bytes;     /**< RLIMIT_AS of the command, 0 = unlimited */
    int bill_seconds;         /**< units: 0 = one "job", 1 = started wall-clock "second"s */
} exec_command;

typedef struct exec_set {
    exec_command *commands;
    size_t n;
    const char **types; /**< NULL-terminated list of every command's type, for job_types() */
} exec_set;

/** Parses the plugin's config section ({"commands":[...]}) into set. 0, or AITBC_EINVAL with a
 *  sentence naming the key in err. */
int exec_set_parse(const cJSON *cfg, exec_set *set, char *err, size_t err_cap);
void exec_set_free(exec_set *set);
const exec_command *exec_set_find(const exec_set *set, const char *type);
/** Frees one command's allocations (the struct itself is the caller's). */
void exec_command_free(exec_command *c);

/** Runs c once with payload on stdin. Any thread; any number at once. compute@1 run() semantics. */
int exec_run(const exec_command *c, const cJSON *payload, const aitbc_compute_ctl *ctl,
             aitbc_compute_out *out);

#endif
