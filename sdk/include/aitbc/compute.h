/* The compute@1 service: a backend that runs one or more job types on a miner node. */
#ifndef AITBC_COMPUTE_H
#define AITBC_COMPUTE_H

#include <stdint.h>
#include <cjson/cJSON.h>

#define AITBC_COMPUTE_SERVICE "compute@1"

/** Progress callback; return nonzero to ask the backend to cancel. */
typedef int (*aitbc_progress_fn)(double fraction, void *user);

typedef struct aitbc_compute_v1 {
    uint32_t size;
    void *self;
    /** NULL-terminated job types this backend runs ("inference", "ocr"). Borrowed. */
    const char *const *(*job_types)(void *self);
    /** Run one job. payload borrowed; *result_out is caller-freed (cJSON_Delete); *units_out the
     *  billable units; *unit_type_out a static string. 0, or an error with *error_out filled. */
    int (*run)(void *self, const cJSON *payload, cJSON **result_out, int64_t *units_out,
               const char **unit_type_out, cJSON **error_out, aitbc_progress_fn progress, void *user);
} aitbc_compute_v1;

#endif
