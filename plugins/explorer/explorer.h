/* The explorer plugin's shared state and helpers: read-only views of the chain plugin's tables. */
#ifndef AITBC_EXPLORER_H
#define AITBC_EXPLORER_H

#include <aitbc/aitbc.h>
#include <aitbc/ledger.h>

typedef struct ex_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    const aitbc_ledger_v1 *ledger; /* looked up in start */
} ex_state;

/* routes.c */
int ex_routes_register(ex_state *es);

#endif
