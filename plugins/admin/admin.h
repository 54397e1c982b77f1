/* What the admin plugin's files share: its state and the route registration (never installed). */
#ifndef AITBC_ADMIN_H
#define AITBC_ADMIN_H

#include <aitbc/aitbc.h>
#include <aitbc/exchange.h>
#include <aitbc/jobs.h>
#include <aitbc/ledger.h>

#define ADMIN_VERSION "0.1.0"

typedef struct admin_state {
    aitbc_plugin_ctx *ctx;
    const aitbc_host_api *api;
    const aitbc_jobs_v1 *jobs;
    const aitbc_miners_v1 *miners;
    const aitbc_ledger_v1 *ledger;
    const aitbc_exchange_v1 *exchange; /* optional */
} admin_state;

/** Registers GET /v1/admin/miners, /v1/admin/jobs and /v1/admin/stats (from start, once the
 *  services are looked up). 0 or the host's error. */
int admin_routes_register(admin_state *as);

#endif
