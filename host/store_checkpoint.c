/* Storage driver, SQLite: WAL checkpoints on a thread of their own. Every connection has
 * wal_autocheckpoint off, so no commit ever pays for copying the WAL into the database (that was
 * 8–16 % of a write request's CPU). This thread looks a few milliseconds after commits happened:
 * a PASSIVE checkpoint copies what no reader still needs without blocking anyone. PASSIVE alone
 * cannot bound the WAL under steady load (some reader always holds an old snapshot, so the log
 * never wraps; it grew to 268 MB in 5 s once), so past WAL_RESTART_FRAMES it takes the process's
 * write turn and runs a TRUNCATE checkpoint, which waits for the readers to move on, copies the
 * rest and empties the file. Idle, it wakes every POLL_MS and does nothing.
 *
 * Under steady writes it copies only every CKPT_PAGES pages of WAL (or once the writes pause):
 * a checkpoint copies each changed page once however often it was rewritten in the log, and
 * syncs the database file, so checkpointing after every batch (every few milliseconds) copied
 * the same hot pages (balances, index roots) and synced again and again — 14 % of a job
 * submit's CPU. Every 4 MiB still copied most of the random-keyed index leaves (job ids, tx
 * hashes) a few hundred submits had touched, then each again after the next few hundred; every
 * 16 MiB copies each of them once for four times the submits, and syncs a quarter as often
 * (-7 % host CPU per job submit). */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "store_priv.h"

#define POLL_MS 5
/* 64 MiB of 4 KiB pages: tens of milliseconds of copying at most, and a crash recovery that
 * reads no more than that. */
#define WAL_RESTART_FRAMES 16384
/* 16 MiB of new WAL between checkpoints while writes go on; well below WAL_RESTART_FRAMES. */
#define CKPT_PAGES 4096

static atomic_uint_fast64_t g_commits;
static atomic_uint_fast64_t g_wal_pages;
static atomic_int g_run;
static int g_started;
static pthread_t g_thread;

void store_ckpt_note_commit(store_conn *c) {
    atomic_fetch_add_explicit(&g_commits, 1, memory_order_relaxed);
    /* Pages this connection wrote to the WAL since the last commit (spills included): the
     * write amplification a benchmark divides by its requests. */
    int pages = 0, high = 0;
    if (sqlite3_db_status(c->db, SQLITE_DBSTATUS_CACHE_WRITE, &pages, &high, 1) == SQLITE_OK &&
        pages > 0)
        atomic_fetch_add_explicit(&g_wal_pages, (uint_fast64_t)pages, memory_order_relaxed);
}

uint64_t store_wal_pages_total(void) {
    return atomic_load_explicit(&g_wal_pages, memory_order_relaxed);
}

static void checkpoint(store_conn *c) {
    int log_frames = 0, done_frames = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                       &done_frames);
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) {
        hlog("store", AITBC_LOG_WARN, "checkpoint failed: %s", sqlite3_errmsg(c->db));
        return;
    }
    if (log_frames < WAL_RESTART_FRAMES) return;
    /* Holding the write turn keeps this process's writers out while the log is reset; readers
     * finish on their own (busy_timeout covers the wait). */
    if (store_writer_lock() != 0) return;
    rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    store_writer_unlock();
    if (rc != SQLITE_OK)
        hlog("store", AITBC_LOG_WARN, "WAL reset (%d frames) failed: %s", log_frames,
             sqlite3_errmsg(c->db));
}

static void *checkpointer_main(void *arg) {
    (void)arg;
    uint_fast64_t seen = atomic_load(&g_commits), copied = atomic_load(&g_commits);
    uint_fast64_t pages_at_ckpt = store_wal_pages_total();
    struct timespec nap = {0, POLL_MS * 1000000L};
    while (atomic_load(&g_run)) {
        nanosleep(&nap, NULL);
        uint_fast64_t now = atomic_load_explicit(&g_commits, memory_order_relaxed);
        uint_fast64_t pages = store_wal_pages_total();
        int paused = now == seen;
        seen = now;
        if (now == copied) continue; /* nothing committed since the last checkpoint */
        if (!paused && pages - pages_at_ckpt < CKPT_PAGES) continue;
        copied = now;
        pages_at_ckpt = pages;
        store_conn *c = store_conn_get();
        if (c) checkpoint(c);
    }
    store_thread_done();
    return NULL;
}

int store_ckpt_start(void) {
    atomic_store(&g_run, 1);
    if (pthread_create(&g_thread, NULL, checkpointer_main, NULL) != 0) {
        atomic_store(&g_run, 0);
        hlog("store", AITBC_LOG_ERROR, "cannot start the checkpointer thread");
        return AITBC_EIO;
    }
    g_started = 1;
    return 0;
}

void store_ckpt_stop(void) {
    if (!g_started) return;
    atomic_store(&g_run, 0);
    pthread_join(g_thread, NULL);
    g_started = 0;
}
