/* A compute@1 ctl for tests that call a backend's engine directly: records progress, lets the
 * test ask the job to stop (now, or once progress passes a fraction), and reads the outcome. As
 * the miner agent's does, should_stop also turns true once ctl.deadline_ms has passed. */
#ifndef AITBC_COMPUTE_PROBE_H
#define AITBC_COMPUTE_PROBE_H

#include <stdatomic.h>
#include <aitbc/compute.h>

typedef struct compute_probe {
    aitbc_compute_ctl ctl;   /* pass &probe.ctl to run() */
    atomic_int stop;         /* nonzero: should_stop() and progress() say stop */
    double stop_at_progress; /* > 0: set stop once progress reaches this fraction */
    int progress_calls;
    double last_progress;
    int went_backwards; /* progress ever decreased */
    int out_of_range;   /* progress ever left [0, 1] */
} compute_probe;

/** A fresh probe: no deadline, never stops. */
void compute_probe_init(compute_probe *p);
/** error.code of a failed run, or NULL. */
const char *compute_probe_code(const aitbc_compute_out *out);
/** error.message of a failed run, or "". */
const char *compute_probe_message(const aitbc_compute_out *out);
/** NULL when run()'s outcome keeps the compute@1 contract (0 with a result object and no error;
 *  a negative code with no result and an error of non-empty code and a message of a sentence),
 *  else what is wrong. */
const char *compute_probe_violation(int rc, const aitbc_compute_out *out);
/** Frees result and error and zeroes out for the next run. */
void compute_probe_out_reset(aitbc_compute_out *out);

#endif
