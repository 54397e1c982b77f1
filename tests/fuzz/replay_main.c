/* Replay driver for the fuzz targets when libFuzzer is not available (gcc, the normal test run).
 *
 * It runs LLVMFuzzerTestOneInput over every file of the seed corpus, then over a fixed number of
 * pseudo-random mutations of those files (fixed seed, so a failure in CI reproduces exactly), and
 * stops early when a time budget runs out so ctest never waits long even under ASan. Violations
 * are abort()s inside the targets; this driver only feeds them.
 *
 *   fuzz_replay_<target> [-n MUTATIONS] [-t SECONDS] [-s SEED] [FILE|DIR ...]
 * With no FILE/DIR the corpus directory compiled in (FUZZ_CORPUS_DIR) is used, so a crash file
 * found by a real libFuzzer run can be replayed with a gcc build by passing its path. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT 8192 /* mutations never grow an input past this */

typedef struct input {
    uint8_t *data;
    size_t size;
    char *name;
} input;

typedef struct corpus {
    input *items;
    size_t n, cap;
} corpus;

static int add_file(corpus *c, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (size == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *g = realloc(buf, cap);
            if (!g) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = g;
        }
        size_t got = fread(buf + size, 1, cap - size, f);
        size += got;
        if (got == 0) break;
    }
    fclose(f);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 32;
        input *g = realloc(c->items, c->cap * sizeof *g);
        if (!g) {
            free(buf);
            return -1;
        }
        c->items = g;
    }
    c->items[c->n++] = (input){buf, size, strdup(path)};
    return 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const input *)a)->name, ((const input *)b)->name);
}

/* A file, or every regular file directly inside a directory. */
static int add_path(corpus *c, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: no such file or directory: %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) return add_file(c, path);
    DIR *d = opendir(path);
    if (!d) return -1;
    size_t first = c->n;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, de->d_name);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) rc = add_file(c, full);
    }
    closedir(d);
    /* readdir order depends on the file system; sort so the mutation stream is reproducible. */
    qsort(c->items + first, c->n - first, sizeof *c->items, by_name);
    return rc;
}

/* xorshift64*: tiny, and the same sequence on every machine. */
static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static size_t below(size_t n) {
    return n ? (size_t)(rnd() % n) : 0;
}

/* Bytes and tokens that matter to our parsers: structure, escapes, numbers at the edges. */
static const char *const tokens[] = {
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "/",
    "%",
    "%2F",
    "%00",
    "%zz",
    "{id}",
    "\\u",
    "\\ud800",
    "\\u0000",
    "null",
    "true",
    "1e999",
    "-0",
    "0.1",
    "1.",
    ".5",
    "9223372036854775807",
    "18446744073709551616",
    "${",
    "$${",
    "}",
    "\n",
    "\t",
    " ",
    "&a",
    "*a",
    "!!str",
    "- ",
    ": ",
    "---",
    "\xc3\xa9",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "\xc0\xaf",
    "Z",
    "T",
    "+01:00",
    ".999",
    "==",
    "-",
    "_",
    "0",
    "60",
    "subscribe",
};

static size_t mutate(uint8_t *buf, size_t size, const corpus *c) {
    int rounds = 1 + (int)below(4);
    for (int r = 0; r < rounds; r++) {
        switch (below(7)) {
        case 0: /* flip a bit */
            if (size) buf[below(size)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: /* set a byte to something interesting */
            if (size) {
                static const uint8_t pick[] = {0, 0x7f, 0x80, 0xff, '0', '9', '{', '/', '.', ' '};
                buf[below(size)] = pick[below(sizeof pick)];
            }
            break;
        case 2: /* delete a run */
            if (size) {
                size_t at = below(size), len = 1 + below(size - at);
                if (len > 16) len = 1 + below(16);
                memmove(buf + at, buf + at + len, size - at - len);
                size -= len;
            }
            break;
        case 3: { /* insert a token */
            const char *t = tokens[below(sizeof tokens / sizeof *tokens)];
            size_t len = strlen(t), at = below(size + 1);
            if (size + len <= REPLAY_MAX_INPUT) {
                memmove(buf + at + len, buf + at, size - at);
                memcpy(buf + at, t, len);
                size += len;
            }
            break;
        }
        case 4: { /* duplicate a chunk of itself (nesting, repetition) */
            if (!size) break;
            size_t from = below(size), len = 1 + below(size - from);
            size_t at = below(size + 1);
            if (size + len <= REPLAY_MAX_INPUT) {
                uint8_t tmp[REPLAY_MAX_INPUT];
                memcpy(tmp, buf + from, len);
                memmove(buf + at + len, buf + at, size - at);
                memcpy(buf + at, tmp, len);
                size += len;
            }
            break;
        }
        case 5: { /* splice in a piece of another seed */
            const input *o = &c->items[below(c->n)];
            if (!o->size) break;
            size_t from = below(o->size), len = 1 + below(o->size - from);
            size_t at = below(size + 1);
            if (at + len <= REPLAY_MAX_INPUT) {
                memcpy(buf + at, o->data + from, len);
                if (at + len > size) size = at + len;
            }
            break;
        }
        default: /* truncate */
            if (size) size = below(size + 1);
            break;
        }
    }
    return size;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long mutations = 3000;
    double budget = 3.0;
    uint64_t seed = 0x41495442435eedULL;
    corpus c = {0};
    int paths = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            mutations = atol(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            budget = atof(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (add_path(&c, argv[i]) == 0)
            paths++;
        else
            return 2;
    }
#ifdef FUZZ_CORPUS_DIR
    if (!paths && add_path(&c, FUZZ_CORPUS_DIR) != 0) return 2;
#endif
    if (c.n == 0) {
        fprintf(stderr, "replay: no inputs\n");
        return 2;
    }
    double start = now_s();
    for (size_t i = 0; i < c.n; i++) {
        /* An exact-size heap copy, so ASan sees a read one past the end of the input. */
        uint8_t *copy = malloc(c.items[i].size ? c.items[i].size : 1);
        if (!copy) return 2;
        memcpy(copy, c.items[i].data, c.items[i].size);
        LLVMFuzzerTestOneInput(copy, c.items[i].size);
        free(copy);
    }
    rng_state = seed ? seed : 1;
    static uint8_t buf[REPLAY_MAX_INPUT];
    long done = 0;
    for (; done < mutations; done++) {
        if ((done & 63) == 0 && now_s() - start > budget) break;
        const input *in = &c.items[below(c.n)];
        size_t size = in->size < REPLAY_MAX_INPUT ? in->size : REPLAY_MAX_INPUT;
        memcpy(buf, in->data, size);
        size = mutate(buf, size, &c);
        uint8_t *copy = malloc(size ? size : 1);
        if (!copy) return 2;
        memcpy(copy, buf, size);
        LLVMFuzzerTestOneInput(copy, size);
        free(copy);
    }
    printf("replayed %zu corpus inputs and %ld mutations in %.2f s\n", c.n, done, now_s() - start);
    for (size_t i = 0; i < c.n; i++) {
        free(c.items[i].data);
        free(c.items[i].name);
    }
    free(c.items);
    return 0;
}
