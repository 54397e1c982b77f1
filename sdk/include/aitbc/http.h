/* HTTP types a plugin sees: routes, roles, the principal, and handler signatures. */
#ifndef AITBC_HTTP_H
#define AITBC_HTTP_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aitbc_request aitbc_request; /* opaque: one HTTP exchange, owned by the host */

/** Roles, as a bitmask in route declarations. A route with roles == AITBC_ROLE_PUBLIC skips auth.
 */
enum {
    AITBC_ROLE_PUBLIC = 0,
    AITBC_ROLE_CLIENT = 1u << 0,
    AITBC_ROLE_MINER = 1u << 1,
    AITBC_ROLE_ADMIN = 1u << 2,
    AITBC_ROLE_ANY = AITBC_ROLE_CLIENT | AITBC_ROLE_MINER | AITBC_ROLE_ADMIN,
};

/** Who is calling: filled by the auth service, borrowed for the request's lifetime. */
typedef struct aitbc_principal {
    char key_id[48];
    unsigned role; /**< exactly one AITBC_ROLE_* bit */
    char owner_address[48];
} aitbc_principal;

/** Handler result: the handler answered (or will answer later through a deferral). */
enum { AITBC_HANDLED = 0 };

/** A route handler. Must call one respond_* function or api->defer() before returning.
 *  Thread: one of the host's HTTP threads, concurrently with other requests (of this route too);
 *  a route with `write` set runs on the host's one writer thread instead (see aitbc_route.write).
 *  May block on the database; must not wait for other requests, timers or the network — a wait
 *  for an event is api->defer(), slow work goes to api->submit().
 *  @param req borrowed until a response is sent. @param user the route's user pointer. */
typedef void (*aitbc_handler_fn)(aitbc_request *req, void *user);

/** Called again for a deferred request: when woken, or with timed_out = 1 at its deadline.
 *  Must respond or defer again. Thread: an HTTP thread (also for a write route); the same
 *  blocking rules as a handler, and its writes run in a transaction of their own. */
typedef void (*aitbc_retry_fn)(aitbc_request *req, void *user, int timed_out);

/** Body handling of a route. */
enum {
    AITBC_BODY_NONE = 0, /**< a body is ignored (GET/DELETE, or POST without input) */
    AITBC_BODY_JSON = 1, /**< body must be application/json and parse (empty body → NULL json) */
};

/** One route. Copied by the host (as far as the descriptor's route_size). Path segments: literal or
 * {name}; literals win over params. */
typedef struct aitbc_route {
    const char *method;    /**< "GET", "POST", "DELETE", ... */
    const char *path;      /**< "/v1/jobs/{job_id}/receipt" */
    unsigned roles;        /**< AITBC_ROLE_* bits allowed; AITBC_ROLE_PUBLIC = no auth at all */
    int body;              /**< AITBC_BODY_* */
    size_t max_body_bytes; /**< 0 = host default (http.max_body_bytes) */
    aitbc_handler_fn handler;
    void *user; /**< handed back to the handler, borrowed */
    /** @since 1.1 (a plugin built against 1.0 never sets it: the host reads the struct only as
     *  far as the descriptor's route_size, or before 1.3 the plugin's abi_minor, covers it).
     *  Nonzero: the host honours the Idempotency-Key header for this route (API.md): same key +
     *  same canonical body → the stored first answer (2xx, 500; never 4xx or 503); other body →
     *  409 idempotency_mismatch; first still running → 409 in_progress. Keyed per account,
     *  method and concrete path. */
    int idempotent;
    /** @since 1.1. Nonzero: the handler writes (the usual case for POST/DELETE). The host runs it
     *  on its writer, inside a transaction shared with other requests (group commit): the
     *  handler's own txn_begin/commit nest into it as usual and a rollback undoes only this
     *  request's work. The response, bus_publish events and wake() calls the handler makes (and
     *  the Idempotency-Key record) are held back until that shared transaction has committed;
     *  if the commit fails the request is answered 503 and its events are dropped. A deferred
     *  request's retry runs on an HTTP thread as before (its writes in their own transaction).
     *  Handlers must not block on other requests. */
    int write;
} aitbc_route;

#ifdef __cplusplus
}
#endif

#endif
