/* The host's own series beyond HTTP: the group-commit writer (queue, batches, batch sizes, commit
 * times), the WebSocket server (connections, what is queued to them) and, with several hosts on
 * one database, the cluster connection. Each scrape reads
 * counters under one short lock and walks the WebSocket connections once. */
#include "internal.h"
#include "metrics_priv.h"

static void render_writer(mbuf *b) {
    writer_stats ws;
    writer_get_stats(&ws);
    mb_printf(b,
              "# HELP aitbc_write_queue Write requests waiting for the writer right now.\n"
              "# TYPE aitbc_write_queue gauge\n"
              "aitbc_write_queue %zu\n"
              "# HELP aitbc_write_batches_total Write transactions the writer ended (group "
              "commit).\n"
              "# TYPE aitbc_write_batches_total counter\n"
              "aitbc_write_batches_total %llu\n"
              "# HELP aitbc_write_batch_items_total Writes run inside those transactions.\n"
              "# TYPE aitbc_write_batch_items_total counter\n"
              "aitbc_write_batch_items_total %llu\n"
              "# HELP aitbc_write_batches_failed_total Write transactions that did not commit.\n"
              "# TYPE aitbc_write_batches_failed_total counter\n"
              "aitbc_write_batches_failed_total %llu\n",
              ws.queued, (unsigned long long)ws.batches, (unsigned long long)ws.items,
              (unsigned long long)ws.failed);
    mb_printf(b,
              "# HELP aitbc_store_wal_pages_total Database pages written to the WAL by "
              "committed write transactions.\n"
              "# TYPE aitbc_store_wal_pages_total counter\n"
              "aitbc_store_wal_pages_total %llu\n",
              (unsigned long long)store_wal_pages_total());
    static const double size_bounds[] = WRITER_SIZE_BOUNDS;
    static const double commit_bounds[] = WRITER_COMMIT_BOUNDS_S;
    _Static_assert(sizeof commit_bounds / sizeof *commit_bounds == WRITER_COMMIT_NB, "bounds");
    mb_printf(b, "# HELP aitbc_write_batch_size Writes per write transaction (group commit).\n"
                 "# TYPE aitbc_write_batch_size histogram\n");
    mb_histogram(b, "aitbc_write_batch_size", NULL, size_bounds, WRITER_SIZE_NB, ws.size_hist,
                 (double)ws.items);
    mb_printf(b, "# HELP aitbc_write_commit_seconds Time a write transaction's COMMIT took "
                 "(fsync included).\n"
                 "# TYPE aitbc_write_commit_seconds histogram\n");
    mb_histogram(b, "aitbc_write_commit_seconds", NULL, commit_bounds, WRITER_COMMIT_NB,
                 ws.commit_hist, (double)ws.commit_us_sum / 1e6);
}

static void render_ws(mbuf *b) {
    size_t conns, msgs, bytes;
    ws_stats(&conns, &msgs, &bytes);
    mb_printf(b,
              "# HELP aitbc_ws_connections WebSocket connections open right now.\n"
              "# TYPE aitbc_ws_connections gauge\n"
              "aitbc_ws_connections %zu\n"
              "# HELP aitbc_ws_queued_messages Messages queued to WebSocket connections, not yet "
              "sent.\n"
              "# TYPE aitbc_ws_queued_messages gauge\n"
              "aitbc_ws_queued_messages %zu\n"
              "# HELP aitbc_ws_queued_bytes Frame bytes queued to WebSocket connections (an event "
              "shared by many counts for each).\n"
              "# TYPE aitbc_ws_queued_bytes gauge\n"
              "aitbc_ws_queued_bytes %zu\n",
              conns, msgs, bytes);
}

/* Several hosts on one database: only when the cluster runs (PostgreSQL). */
static void render_cluster(mbuf *b) {
    cluster_stats st;
    if (!cluster_get_stats(&st)) return;
    mb_printf(b,
              "# HELP aitbc_cluster_connected 1 while the cluster connection (LISTEN, leader "
              "locks) is up.\n"
              "# TYPE aitbc_cluster_connected gauge\n"
              "aitbc_cluster_connected %d\n"
              "# HELP aitbc_cluster_events_received_total Events and wake-ups other hosts "
              "committed, delivered here.\n"
              "# TYPE aitbc_cluster_events_received_total counter\n"
              "aitbc_cluster_events_received_total %llu\n"
              "# HELP aitbc_cluster_leader 1 for each leader role this host holds, 0 for one it "
              "waits for.\n"
              "# TYPE aitbc_cluster_leader gauge\n",
              st.connected, (unsigned long long)st.received);
    for (size_t i = 0; i < st.nroles; i++)
        mb_printf(b, "aitbc_cluster_leader{role=\"%s\"} %d\n", st.roles[i], st.held[i]);
}

void metrics_render_host(mbuf *b) {
    render_writer(b);
    render_ws(b);
    render_cluster(b);
}
