/* The cluster modules' shared parts (cluster.c, cluster_events.c, cluster_leader.c,
 * cluster_keys.c). Only cluster code includes this; the rest of the host uses internal.h. */
#ifndef AITBC_HOST_CLUSTER_PRIV_H
#define AITBC_HOST_CLUSTER_PRIV_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_NODE_ID_MAX 64
#define CLUSTER_CHANNEL_MAX 32
#define CLUSTER_ROLE_MAX 64

/* ---- pure helpers (cluster_keys.c) ---- */
/** FNV-1a, 32 bits: role and schema names to advisory lock keys. */
uint32_t cluster_hash32(const char *s);
/** The NOTIFY channel of one schema: hosts on other schemas of the same database (the test
 *  harness gives each host its own) neither hear nor wake each other. */
void cluster_channel_name(uint32_t schema_hash, char out[CLUSTER_CHANNEL_MAX]);
/** 1 if id is 1..63 of [A-Za-z0-9._:-]. */
int cluster_node_id_valid(const char *id);
/** "<hostname>-<8 random hex>": unique per run even for hosts on one machine. */
void cluster_node_id_default(char out[CLUSTER_NODE_ID_MAX]);
/** A role name a plugin may elect: 1..63 of [A-Za-z0-9._:-]. */
int cluster_role_valid(const char *role);
/** The two int4 keys of pg_advisory_lock(int4, int4) for role in a schema: classid = the schema's
 *  hash, objid = the role's (as the signed values the function takes). */
void cluster_role_keys(uint32_t schema_hash, const char *role, int32_t *k1, int32_t *k2);

/* ---- the shared state (cluster.c) ---- */
/** This host's node id (cluster.node_id or the default), "" before cluster_start. */
const char *cluster_node_id(void);
/** The schema hash and channel, set once the first connection told the schema. */
uint32_t cluster_schema_hash(void);
const char *cluster_channel(void);
/** Run one statement with text parameters on the cluster connection; the result (caller
 *  PQclear's) or NULL when it failed (logged once per failure kind). */
PGresult *cluster_exec(PGconn *c, const char *sql, int n, const char *const *params,
                       ExecStatusType want);

/* ---- events (cluster_events.c), on the cluster thread ---- */
/** The highest seq now (where a starting host begins). 0 or -1 on error. */
int events_start_seq(PGconn *c, int64_t *out);
/** Deliver every other host's row after *last, in seq order, and advance *last past every row
 *  (own ones too). Rows delivered, or -1 when the connection failed. */
int events_catch_up(PGconn *c, int64_t *last);
/** Forget what is queued for relaying (cluster_stop). */
void cluster_relay_drop(void);
/** Rows of other hosts delivered since start. */
uint64_t events_received(void);
/** Delete rows older than retention_ms. */
void events_trim(PGconn *c, int64_t retention_ms);

/* ---- leadership (cluster_leader.c), on the cluster thread ---- */
/** In a write transaction: a row when the session with backend pid ?3 holds the advisory lock
 *  (classid ?1, objid ?2 as unsigned values) in this database. Portable `?` placeholders: the
 *  store's driver numbers them. */
#define CLUSTER_FENCE_SQL                                                                          \
    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"              \
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"             \
    " AND CAST(classid AS BIGINT) = ? AND CAST(objid AS BIGINT) = ? AND pid = ?"
/** 1 when a role was asked for since the last leader_tick. */
int leader_wanted_new(void);
/** Try to take every wanted role not held (session advisory locks on c, whose backend is pid). */
void leader_tick(PGconn *c);
/** Fill out's roles and held flags (metrics). */
struct cluster_stats;
void leader_roles(struct cluster_stats *out);
/** The backend pid of the session holding role, or 0 when this host does not hold it. */
int leader_session_pid(const char *role);
/** The connection is gone: so are its locks. */
void leader_lost_all(void);
/** Stopping: this host holds nothing from now on (the roles stay wanted). */
void leader_reset_held(void);
/** Forget every role (cluster_stop). */
void leader_reset(void);

#endif
