/* The explorer plugin's shared state: read-only views of the chain through chain-query@1. */
#ifndef AITBC_EXPLORER_H
#define AITBC_EXPLORER_H

#include <aitbc/aitbc.h>
#include <aitbc/chain_query.h>

typedef struct ex_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    const aitbc_chain_query_v1 *query; /* looked up in start */
} ex_state;

/* routes.c */
int ex_routes_register(ex_state *es);

#endif
