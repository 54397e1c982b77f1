/* Storage driver, SQLite: a VFS over the default one that writes the WAL in large pieces.
 *
 * SQLite appends each WAL frame with two writes (24-byte header, then the page), so a batch of
 * the group commit cost two pwrite() calls per page, each touching one or two page-cache folios
 * (~4 pages per job submit, ~50 submits per batch). Here the appends of one WAL handle gather in
 * a buffer and reach the file in 64 KiB pieces.
 *
 * SQLite must not be able to tell the difference, so every buffered byte reaches the file, in
 * the order it was written, before any of these (the only ways the bytes can matter):
 * - the commit frame is complete: the next thing SQLite does is publish the frames in the
 *   wal-index, after which other connections read them from the file. A frame header whose
 *   "database size" field is non-zero marks a commit (the WAL file format); the buffer goes out
 *   with the write that ends that frame;
 * - the write lock is released (xShmLock on the database file): frames past the last commit are
 *   dead, but another connection may write the same offsets next, so ours must be in before;
 * - a read, sync, truncate, size query, file control or close of the WAL handle, and a write
 *   that does not continue the buffered run.
 * Anything unusual (page size unknown, a header split across writes, no link to the handle that
 * holds the write lock) is written through at once, as the default VFS would.
 *
 * A connection's WAL handle learns which database handle is its own when it first writes: the
 * database handle that took the write lock on this thread, with a matching name. Both belong to
 * one connection, which one thread uses at a time, so they need no lock of their own (the host
 * gives every thread its own connection, so a write lock is taken and released on one thread). */
#include <stdlib.h>
#include <string.h>

#include "store_priv.h"

#define WB_VFS_NAME "aitbc-walbuf"
#define WB_FIRST_CAP ((size_t)256 * 1024)
#define WB_MAX_CAP ((size_t)4 * 1024 * 1024)
#define WB_PIECE ((size_t)64 * 1024)
#define WAL_HDR_BYTES 32
#define FRAME_HDR_BYTES 24
#define WRITE_LOCK_SLOT 0 /* WAL_WRITE_LOCK in SQLite's wal.c */

typedef struct wb_file wb_file;
struct wb_file {
    sqlite3_file base; /* must be first: SQLite sees this */
    sqlite3_file *real;
    const char *name; /* SQLite keeps it valid until xClose */
    int is_wal;
    /* Database handle: its connection's WAL handle once linked, and whether it holds the write
     * lock. */
    wb_file *wal;
    int writing;
    /* WAL handle. */
    wb_file *db;
    unsigned char *buf;
    size_t len, cap;
    sqlite3_int64 off;        /* file offset of buf[0] */
    sqlite3_int64 commit_end; /* a commit frame ends here: write out once it is buffered */
    int page_size;            /* from the WAL header; 0 unknown */
};

static sqlite3_vfs g_vfs;
static sqlite3_vfs *g_real;
static _Thread_local wb_file *tl_writing_db; /* the database handle that last took the lock */

/* ---- the WAL buffer ---- */

/* In pieces of WB_PIECE: the unix VFS writes at most 17 bits' worth per call (it masks the
 * length), so a larger write would come back short (SQLITE_FULL). */
static int wb_flush(wb_file *w) {
    int rc = SQLITE_OK;
    for (size_t done = 0; done < w->len && rc == SQLITE_OK; done += WB_PIECE) {
        size_t n = w->len - done < WB_PIECE ? w->len - done : WB_PIECE;
        rc =
            w->real->pMethods->xWrite(w->real, w->buf + done, (int)n, w->off + (sqlite3_int64)done);
    }
    w->len = 0;
    return rc;
}

static unsigned be32(const unsigned char *p) {
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

/* The page size from the WAL header on disk (when the header was written before this handle
 * started buffering). 0 if unknown. */
static int page_size_from_file(wb_file *w) {
    unsigned char hdr[WAL_HDR_BYTES];
    if (w->real->pMethods->xRead(w->real, hdr, WAL_HDR_BYTES, 0) != SQLITE_OK) return 0;
    unsigned ps = be32(hdr + 8);
    return ps >= 512 && ps <= 65536 && (ps & (ps - 1)) == 0 ? (int)ps : 0;
}

/* Look at the frame headers inside [off, off+n): note where a commit frame ends. Returns 1 when
 * the write must go through at once (a header cut by the write's end). */
static int scan_frames(wb_file *w, const unsigned char *data, int n, sqlite3_int64 off) {
    sqlite3_int64 frame = FRAME_HDR_BYTES + (sqlite3_int64)w->page_size, end = off + n;
    sqlite3_int64 h = WAL_HDR_BYTES;
    if (off > WAL_HDR_BYTES) h += (off - WAL_HDR_BYTES + frame - 1) / frame * frame;
    for (; h < end; h += frame) {
        if (h + 8 > end) return 1;
        if (be32(data + (h - off) + 4) != 0 && h + frame > w->commit_end) w->commit_end = h + frame;
    }
    return 0;
}

/* Buffer one write; 0 when it could not be (the caller writes it through). */
static int wb_take(wb_file *w, const void *data, int n, sqlite3_int64 off) {
    size_t un = (size_t)n;
    if (un > WB_MAX_CAP) return 0;
    if (w->len && (off != w->off + (sqlite3_int64)w->len || w->len + un > WB_MAX_CAP)) return 0;
    if (w->len + un > w->cap) {
        size_t cap = w->cap ? w->cap : WB_FIRST_CAP;
        while (cap < w->len + un)
            cap *= 2;
        if (cap > WB_MAX_CAP) cap = WB_MAX_CAP;
        unsigned char *grown = realloc(w->buf, cap);
        if (!grown) return 0;
        w->buf = grown;
        w->cap = cap;
    }
    if (!w->len) w->off = off;
    memcpy(w->buf + w->len, data, un);
    w->len += un;
    return 1;
}

static int wal_write(wb_file *w, const void *data, int n, sqlite3_int64 off) {
    const unsigned char *p = data;
    if (off == 0 && n >= WAL_HDR_BYTES) { /* a new WAL header: its page size */
        unsigned ps = be32(p + 8);
        w->page_size = ps >= 512 && ps <= 65536 && (ps & (ps - 1)) == 0 ? (int)ps : 0;
        w->commit_end = 0;
    }
    if (!w->db && tl_writing_db && tl_writing_db->writing && !tl_writing_db->wal) {
        size_t nl = strlen(tl_writing_db->name);
        if (!strncmp(w->name, tl_writing_db->name, nl) && !strcmp(w->name + nl, "-wal")) {
            w->db = tl_writing_db;
            w->db->wal = w;
        }
    }
    int buffer = w->db && w->db->writing;
    if (buffer && !w->page_size) {
        int rc = wb_flush(w);
        if (rc != SQLITE_OK) return rc;
        w->page_size = page_size_from_file(w);
        buffer = w->page_size != 0;
    }
    if (buffer && scan_frames(w, p, n, off)) buffer = 0;
    if (buffer && wb_take(w, p, n, off)) {
        if (w->commit_end && off + n >= w->commit_end) {
            w->commit_end = 0;
            return wb_flush(w);
        }
        return SQLITE_OK;
    }
    int rc = wb_flush(w);
    if (rc == SQLITE_OK) rc = w->real->pMethods->xWrite(w->real, data, n, off);
    if (w->commit_end && off + n >= w->commit_end) w->commit_end = 0;
    return rc;
}

/* ---- io methods: the WAL's own, the rest forwarded ---- */

#define REAL(f) (((wb_file *)(f))->real)
#define FLUSHED(f)                                                                                 \
    do {                                                                                           \
        wb_file *w_ = (wb_file *)(f);                                                              \
        if (w_->is_wal && w_->len) {                                                               \
            int rc_ = wb_flush(w_);                                                                \
            if (rc_ != SQLITE_OK) return rc_;                                                      \
        }                                                                                          \
    } while (0)

static void unlink_pair(wb_file *f) {
    if (f->is_wal && f->db) {
        f->db->wal = NULL;
        f->db = NULL;
    } else if (!f->is_wal && f->wal) {
        wb_flush(f->wal);
        f->wal->db = NULL;
        f->wal = NULL;
    }
    if (tl_writing_db == f) tl_writing_db = NULL;
}

static int m_close(sqlite3_file *f) {
    wb_file *w = (wb_file *)f;
    int rc = w->is_wal ? wb_flush(w) : SQLITE_OK;
    unlink_pair(w);
    free(w->buf);
    w->buf = NULL;
    int rc2 = w->real->pMethods->xClose(w->real);
    return rc != SQLITE_OK ? rc : rc2;
}

static int m_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off) {
    FLUSHED(f);
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int m_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off) {
    wb_file *w = (wb_file *)f;
    if (w->is_wal) return wal_write(w, p, n, off);
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}

static int m_truncate(sqlite3_file *f, sqlite3_int64 size) {
    FLUSHED(f);
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int m_sync(sqlite3_file *f, int flags) {
    FLUSHED(f);
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int m_file_size(sqlite3_file *f, sqlite3_int64 *size) {
    FLUSHED(f);
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int m_lock(sqlite3_file *f, int level) {
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int m_unlock(sqlite3_file *f, int level) {
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int m_check_lock(sqlite3_file *f, int *out) {
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int m_file_control(sqlite3_file *f, int op, void *arg) {
    FLUSHED(f);
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int m_sector_size(sqlite3_file *f) {
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int m_device(sqlite3_file *f) {
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int m_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp) {
    return REAL(f)->pMethods->xShmMap(REAL(f), region, size, extend, pp);
}

/* The write lock's release flushes the connection's WAL buffer first; taking it makes this
 * handle the thread's writer, so the WAL handle can find it. */
static int m_shm_lock(sqlite3_file *f, int ofst, int n, int flags) {
    wb_file *d = (wb_file *)f;
    int covers = ofst <= WRITE_LOCK_SLOT && WRITE_LOCK_SLOT < ofst + n;
    if (covers && (flags & SQLITE_SHM_UNLOCK) && d->writing) {
        if (d->wal) {
            if (wb_flush(d->wal) != SQLITE_OK)
                hlog("store", AITBC_LOG_ERROR, "writing buffered WAL frames failed");
            d->wal->commit_end = 0;
        }
        d->writing = 0;
        if (tl_writing_db == d) tl_writing_db = NULL;
    }
    int rc = REAL(f)->pMethods->xShmLock(REAL(f), ofst, n, flags);
    if (rc == SQLITE_OK && covers && flags == (SQLITE_SHM_LOCK | SQLITE_SHM_EXCLUSIVE)) {
        d->writing = 1;
        tl_writing_db = d;
    }
    return rc;
}

static void m_shm_barrier(sqlite3_file *f) {
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int m_shm_unmap(sqlite3_file *f, int del) {
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int m_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp) {
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}

static int m_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods g_methods = {
    .iVersion = 3,
    .xClose = m_close,
    .xRead = m_read,
    .xWrite = m_write,
    .xTruncate = m_truncate,
    .xSync = m_sync,
    .xFileSize = m_file_size,
    .xLock = m_lock,
    .xUnlock = m_unlock,
    .xCheckReservedLock = m_check_lock,
    .xFileControl = m_file_control,
    .xSectorSize = m_sector_size,
    .xDeviceCharacteristics = m_device,
    .xShmMap = m_shm_map,
    .xShmLock = m_shm_lock,
    .xShmBarrier = m_shm_barrier,
    .xShmUnmap = m_shm_unmap,
    .xFetch = m_fetch,
    .xUnfetch = m_unfetch,
};

/* The database and its WAL get a wrapper; every other file (temp files, the rollback journal)
 * is the default VFS's own, opened straight into the space SQLite gave us. */
static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out) {
    (void)vfs;
    if (!name || !(flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)))
        return g_real->xOpen(g_real, name, f, flags, out);
    wb_file *w = (wb_file *)f;
    memset(w, 0, sizeof *w);
    w->real = (sqlite3_file *)((char *)f + ((sizeof *w + 15) & ~(size_t)15));
    w->name = name;
    w->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = g_real->xOpen(g_real, name, w->real, flags, out);
    if (rc != SQLITE_OK) {
        if (w->real->pMethods) w->real->pMethods->xClose(w->real);
        w->base.pMethods = NULL;
        return rc;
    }
    if (w->real->pMethods->iVersion < 3) { /* not the unix VFS we know: plain files */
        w->real->pMethods->xClose(w->real);
        memset(w, 0, sizeof *w);
        return g_real->xOpen(g_real, name, f, flags, out);
    }
    w->base.pMethods = &g_methods;
    return SQLITE_OK;
}

const char *store_walbuf_vfs(void) {
    if (!g_real) {
        sqlite3_vfs *real = sqlite3_vfs_find(NULL);
        if (!real) return NULL;
        g_vfs = *real; /* every VFS-level method is the default's own */
        g_vfs.zName = WB_VFS_NAME;
        g_vfs.szOsFile = (int)((sizeof(wb_file) + 15) & ~(size_t)15) + real->szOsFile;
        g_vfs.xOpen = v_open;
        g_vfs.pNext = NULL;
        if (sqlite3_vfs_register(&g_vfs, 0) != SQLITE_OK) return NULL;
        g_real = real;
    }
    return WB_VFS_NAME;
}
