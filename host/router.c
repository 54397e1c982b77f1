/* The HTTP router: a segment trie of method + path patterns with literal and {name} segments.
 *
 * Matching rules (documented in docs/api.md too):
 *  - Literal segments win over parameters at each depth. The search backtracks: if the literal
 *    branch leads nowhere for this method, the parameter branch is tried next. The first pattern
 *    (in that priority order) that has a route for the method wins.
 *  - No pattern matches the path → 404. Some pattern matches the path but none for the method →
 *    405 with Allow = every method registered on the matching patterns.
 *  - One trailing slash is ignored ("/v1/jobs/" is "/v1/jobs"); empty segments elsewhere ("//")
 *    never match. Segments are percent-decoded before comparison; a segment with bad escapes, a
 *    decoded NUL or bytes that are not UTF-8 matches nothing. Parameter values are the decoded
 * segment ("%2F" stays inside).
 *  - http.path_prefix: router_route_path() strips the prefix; paths without it are served as they
 *    are, so a node behind a proxy that maps https://…/api answers both /api/v1/… and /v1/….
 * The router is not locked: the HTTP layer serialises writers against readers. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "http_priv.h"

#define MAX_DEPTH 32
#define MAX_METHOD 16

typedef struct rentry {
    char *method;
    char *path;
    aitbc_route route; /* copy; route.method/path point at the copies above */
    aitbc_plugin_ctx *owner;
    size_t nparams;
    char *names[ROUTER_MAX_PARAMS];
    struct rentry *next;
} rentry;

typedef struct rnode {
    char *seg;           /* literal text; NULL for the parameter child */
    struct rnode **lits; /* literal children sorted by seg (binary search) */
    size_t nlits, caplits;
    struct rnode *param; /* the {name} child; names live in the entries */
    rentry *entries;     /* routes ending at this node, one per method */
} rnode;

struct router {
    rnode root;
    size_t nroutes;
};

router *router_new(void) {
    return calloc(1, sizeof(router));
}

static void node_clear(rnode *n) {
    for (size_t i = 0; i < n->nlits; i++) {
        node_clear(n->lits[i]);
        free(n->lits[i]);
    }
    free(n->lits);
    if (n->param) {
        node_clear(n->param);
        free(n->param);
    }
    rentry *e = n->entries;
    while (e) {
        rentry *next = e->next;
        for (size_t i = 0; i < e->nparams; i++)
            free(e->names[i]);
        free(e->method);
        free(e->path);
        free(e);
        e = next;
    }
    free(n->seg);
}

void router_free(router *r) {
    if (!r) return;
    node_clear(&r->root);
    free(r);
}

/* Binary search among literal children; *pos gets the insertion point when absent. */
static rnode *find_lit(const rnode *n, const char *seg, size_t len, size_t *pos) {
    size_t lo = 0, hi = n->nlits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *s = n->lits[mid]->seg;
        int c = strncmp(s, seg, len);
        if (c == 0 && s[len] != '\0') c = 1;
        if (c == 0) return n->lits[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos) *pos = lo;
    return NULL;
}

static rnode *add_lit(rnode *n, const char *seg, size_t len) {
    size_t pos = 0;
    rnode *c = find_lit(n, seg, len, &pos);
    if (c) return c;
    if (n->nlits == n->caplits) {
        size_t cap = n->caplits ? n->caplits * 2 : 4;
        rnode **grown = realloc(n->lits, cap * sizeof *grown);
        if (!grown) return NULL;
        n->lits = grown;
        n->caplits = cap;
    }
    c = calloc(1, sizeof *c);
    if (!c || !(c->seg = strndup(seg, len))) {
        free(c);
        return NULL;
    }
    memmove(n->lits + pos + 1, n->lits + pos, (n->nlits - pos) * sizeof *n->lits);
    n->lits[pos] = c;
    n->nlits++;
    return c;
}

static int valid_method(const char *m) {
    size_t len = m ? strlen(m) : 0;
    if (len == 0 || len >= MAX_METHOD) return 0;
    for (size_t i = 0; i < len; i++)
        if (m[i] < 'A' || m[i] > 'Z') return 0;
    return 1;
}

static int valid_name(const char *s, size_t len) {
    if (len == 0 || len > 32) return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return 0;
    }
    return 1;
}

/* Literal pattern segments are plain: no braces, no escapes, no query or fragment marks. */
static int valid_literal(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (strchr("{}%?#", s[i]) || (unsigned char)s[i] <= 0x20 || (unsigned char)s[i] == 0x7f)
            return 0;
    return 1;
}

static void entry_free(rentry *e) {
    for (size_t i = 0; i < e->nparams; i++)
        free(e->names[i]);
    free(e->method);
    free(e->path);
    free(e);
}

int router_add(router *r, const aitbc_route *route, aitbc_plugin_ctx *owner) {
    if (!r || !route || !route->path || !route->handler || !valid_method(route->method))
        return AITBC_EINVAL;
    const char *p = route->path;
    if (p[0] != '/') return AITBC_EINVAL;
    rentry *e = calloc(1, sizeof *e);
    if (!e) return AITBC_ENOMEM;
    rnode *n = &r->root;
    int rc = AITBC_EINVAL;
    size_t depth = 0;
    if (strcmp(p, "/") != 0) {
        const char *s = p + 1;
        for (;;) {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || ++depth > MAX_DEPTH)
                goto fail; /* empty segment or trailing slash in a pattern */
            if (s[0] == '{') {
                if (len < 3 || s[len - 1] != '}' || !valid_name(s + 1, len - 2) ||
                    e->nparams == ROUTER_MAX_PARAMS)
                    goto fail;
                for (size_t i = 0; i < e->nparams; i++)
                    if (strlen(e->names[i]) == len - 2 && strncmp(e->names[i], s + 1, len - 2) == 0)
                        goto fail; /* the same name twice */
                if (!(e->names[e->nparams] = strndup(s + 1, len - 2))) {
                    rc = AITBC_ENOMEM;
                    goto fail;
                }
                e->nparams++;
                if (!n->param && !(n->param = calloc(1, sizeof *n->param))) {
                    rc = AITBC_ENOMEM;
                    goto fail;
                }
                n = n->param;
            } else {
                if (!valid_literal(s, len)) goto fail;
                if (!(n = add_lit(n, s, len))) {
                    rc = AITBC_ENOMEM;
                    goto fail;
                }
            }
            if (!end) break;
            s = end + 1;
        }
    }
    for (rentry *x = n->entries; x; x = x->next)
        if (strcmp(x->method, route->method) == 0) {
            rc = AITBC_EEXIST;
            goto fail;
        }
    e->method = strdup(route->method);
    e->path = strdup(route->path);
    if (!e->method || !e->path) {
        rc = AITBC_ENOMEM;
        goto fail;
    }
    e->route = *route;
    e->route.method = e->method;
    e->route.path = e->path;
    e->owner = owner;
    e->next = n->entries;
    n->entries = e;
    r->nroutes++;
    return 0;
fail:
    /* Nodes created on the way stay (empty nodes match nothing); only the entry goes. */
    entry_free(e);
    return rc;
}

static void each_node(const rnode *n, router_each_fn fn, void *user) {
    for (const rentry *e = n->entries; e; e = e->next)
        fn(&e->route, e->owner, user);
    for (size_t i = 0; i < n->nlits; i++)
        each_node(n->lits[i], fn, user);
    if (n->param) each_node(n->param, fn, user);
}

void router_each(const router *r, router_each_fn fn, void *user) {
    if (r) each_node(&r->root, fn, user);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long router_url_decode(const char *in, size_t len, char *out, int plus_is_space) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= len) return -1;
            int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi << 4 | lo);
            if (c == '\0') return -1;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

/* One decoded request segment. */
typedef struct seg {
    char *text;
} seg;

typedef struct walk_ctx {
    const char *method;
    seg *segs;
    size_t nsegs;
    size_t stack[ROUTER_MAX_PARAMS]; /* indexes of the segments bound to parameters */
    size_t nstack;
    const rentry *found;
    size_t found_stack[ROUTER_MAX_PARAMS];
    size_t found_n;
    int path_matched;
    const char *allow[16];
    size_t nallow;
} walk_ctx;

static void note_allow(walk_ctx *w, const rnode *n) {
    w->path_matched = 1;
    for (const rentry *e = n->entries; e; e = e->next) {
        size_t i = 0;
        while (i < w->nallow && strcmp(w->allow[i], e->method) != 0)
            i++;
        if (i == w->nallow && w->nallow < sizeof w->allow / sizeof *w->allow)
            w->allow[w->nallow++] = e->method;
    }
}

/* Depth-first: literal child before parameter child. Returns 1 once a route is found. */
static int walk(const rnode *n, size_t depth, walk_ctx *w) {
    if (depth == w->nsegs) {
        if (!n->entries) return 0;
        for (const rentry *e = n->entries; e; e = e->next)
            if (strcmp(e->method, w->method) == 0) {
                w->found = e;
                memcpy(w->found_stack, w->stack, w->nstack * sizeof *w->stack);
                w->found_n = w->nstack;
                return 1;
            }
        note_allow(w, n);
        return 0;
    }
    const char *text = w->segs[depth].text;
    const rnode *lit = find_lit(n, text, strlen(text), NULL);
    if (lit && walk(lit, depth + 1, w)) return 1;
    if (n->param && text[0] != '\0' && w->nstack < ROUTER_MAX_PARAMS) {
        w->stack[w->nstack++] = depth;
        int hit = walk(n->param, depth + 1, w);
        w->nstack--;
        if (hit) return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Split and decode; 0 on success, -1 if the path can match nothing. */
static int split_path(const char *path, seg *segs, size_t *nsegs, char *buf, size_t bufcap) {
    *nsegs = 0;
    if (!path || path[0] != '/') return -1;
    size_t plen = strlen(path);
    if (plen >= bufcap) return -1;
    if (plen > 1 && path[plen - 1] == '/') plen--; /* one trailing slash is ignored */
    if (plen <= 1) return 0;
    size_t off = 0;
    const char *s = path + 1, *stop = path + plen;
    while (s <= stop) {
        const char *end = memchr(s, '/', (size_t)(stop - s));
        if (!end) end = stop;
        size_t len = (size_t)(end - s);
        if (len == 0 || *nsegs == MAX_DEPTH) return -1;
        long dl = router_url_decode(s, len, buf + off, 0);
        /* Not UTF-8: no id or name can be such bytes (PostgreSQL would refuse them as text). */
        if (dl < 0 || !aitbc_utf8_valid(buf + off, (size_t)dl)) return -1;
        segs[(*nsegs)++].text = buf + off;
        off += (size_t)dl + 1;
        s = end + 1;
    }
    return 0;
}

route_result router_match(const router *r, const char *method, const char *path, route_match *m) {
    memset(m, 0, sizeof *m);
    if (!r || !method || !path) return ROUTE_NOT_FOUND;
    char stackbuf[1024];
    size_t need = strlen(path) + 1;
    char *buf = need <= sizeof stackbuf ? stackbuf : malloc(need);
    if (!buf) return ROUTE_NOT_FOUND;
    seg segs[MAX_DEPTH];
    walk_ctx w = {.method = method, .segs = segs};
    route_result res = ROUTE_NOT_FOUND;
    if (split_path(path, segs, &w.nsegs, buf, need) != 0) goto out;
    if (walk(&r->root, 0, &w)) {
        const rentry *e = w.found;
        m->route = &e->route;
        m->owner = e->owner;
        m->pattern = e->path;
        m->nparams = e->nparams;
        for (size_t i = 0; i < e->nparams && i < w.found_n; i++) {
            m->names[i] = e->names[i];
            m->values[i] = strdup(segs[w.found_stack[i]].text);
            if (!m->values[i]) {
                route_match_free(m);
                goto out;
            }
        }
        res = ROUTE_FOUND;
    } else if (w.path_matched) {
        qsort(w.allow, w.nallow, sizeof *w.allow, cmp_str);
        size_t o = 0;
        for (size_t i = 0; i < w.nallow; i++) {
            size_t len = strlen(w.allow[i]);
            if (o + len + 3 > sizeof m->allow) break;
            if (i) {
                memcpy(m->allow + o, ", ", 2);
                o += 2;
            }
            memcpy(m->allow + o, w.allow[i], len);
            o += len;
        }
        m->allow[o] = '\0';
        res = ROUTE_METHOD_NOT_ALLOWED;
    }
out:
    if (buf != stackbuf) free(buf);
    return res;
}

void route_match_free(route_match *m) {
    if (!m) return;
    for (size_t i = 0; i < ROUTER_MAX_PARAMS; i++) {
        free(m->values[i]);
        m->values[i] = NULL;
    }
    m->nparams = 0;
}

size_t router_count(const router *r) {
    return r ? r->nroutes : 0;
}

const char *router_route_path(const char *prefix, const char *path) {
    if (!path) return NULL;
    if (!prefix || !prefix[0] || strcmp(prefix, "/") == 0) return path;
    size_t plen = strlen(prefix);
    while (plen > 1 && prefix[plen - 1] == '/')
        plen--; /* "/api/" is "/api" */
    if (strncmp(path, prefix, plen) == 0) {
        if (path[plen] == '/') return path + plen;
        if (path[plen] == '\0') return "/";
    }
    return path;
}
