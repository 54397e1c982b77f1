/* Offline commands a plugin offers to the host's command line ("aitbc-host --verify-chain").
 * A plugin registers a service named "command:<name>@1" with this table from init; the host
 * runs it after init (database open, no sockets) and exits with its return value. */
#ifndef AITBC_COMMAND_H
#define AITBC_COMMAND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aitbc_command_v1 {
    uint32_t size;
    void *self;
    /** argc/argv are what followed the flag (e.g. the receipt file), borrowed. Runs on the main
     *  thread after every init, no sockets open; may block. Prints its own report to stdout;
     *  returns the process exit code (0 = ok). */
    int (*run)(void *self, int argc, char **argv);
} aitbc_command_v1;

#ifdef __cplusplus
}
#endif

#endif
