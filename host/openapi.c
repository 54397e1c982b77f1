/* GET /v1/openapi.json: the OpenAPI 3.1 description of exactly the routes this node serves.
 *
 * The words (summaries, parameters, schemas) come from docs/openapi.json, compiled into the host;
 * the list of operations comes from the live route table. So the answer never names a path the
 * node does not route, and a route the shipped file does not describe still appears, with what
 * the route table knows (roles, JSON body, Idempotency-Key, path parameters) and
 * "x-aitbc-undocumented": true, which the tests refuse for every plugin in this tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_priv.h"

/* docs/openapi.json, compiled in by cmake/embed.cmake (openapi_doc.c): one file, NUL-terminated. */
extern const unsigned char *const aitbc_openapi_data[];

typedef struct op_ref {
    const aitbc_route *route;
    const char *plugin;
} op_ref;

typedef struct op_list {
    op_ref *v;
    size_t n, cap;
    int oom;
} op_list;

static void collect(const aitbc_route *route, aitbc_plugin_ctx *owner, void *user) {
    op_list *l = user;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        op_ref *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].route = route;
    l->v[l->n].plugin = owner && owner->desc && owner->desc->name ? owner->desc->name : "host";
    l->n++;
}

static int method_rank(const char *m) {
    static const char *const order[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (int i = 0; i < 5; i++)
        if (strcmp(m, order[i]) == 0) return i;
    return 5;
}

static int cmp_op(const void *a, const void *b) {
    const op_ref *x = a, *y = b;
    int c = strcmp(x->route->path, y->route->path);
    if (c) return c;
    c = method_rank(x->route->method) - method_rank(y->route->method);
    return c ? c : strcmp(x->route->method, y->route->method);
}

static cJSON *ref(const char *target) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "$ref", target);
    return o;
}

/* 1 if params already holds a parameter named name in location in (or a $ref ending in /name). */
static int has_param(const cJSON *params, const char *name, const char *in) {
    const cJSON *p;
    cJSON_ArrayForEach(p, params) {
        const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "$ref"));
        if (r) {
            const char *slash = strrchr(r, '/');
            if (slash && strcmp(slash + 1, name) == 0) return 1;
            continue;
        }
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "name"));
        const char *i = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "in"));
        if (n && i && strcmp(n, name) == 0 && strcmp(i, in) == 0) return 1;
    }
    return 0;
}

static void add_path_params(cJSON *op, const char *path) {
    cJSON *params = cJSON_GetObjectItemCaseSensitive(op, "parameters");
    if (!params) params = cJSON_AddArrayToObject(op, "parameters");
    for (const char *s = strchr(path, '{'); s; s = strchr(s + 1, '{')) {
        const char *e = strchr(s, '}');
        if (!e) break;
        char name[40];
        size_t len = (size_t)(e - s - 1);
        if (len >= sizeof name) continue;
        memcpy(name, s + 1, len);
        name[len] = '\0';
        if (has_param(params, name, "path")) continue;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "name", name);
        cJSON_AddStringToObject(p, "in", "path");
        cJSON_AddBoolToObject(p, "required", 1);
        cJSON_AddItemToObject(cJSON_AddObjectToObject(p, "schema"), "type",
                              cJSON_CreateString("string"));
        cJSON_AddItemToArray(params, p);
    }
    if (cJSON_GetArraySize(params) == 0) cJSON_DeleteItemFromObjectCaseSensitive(op, "parameters");
}

static void add_roles(cJSON *op, unsigned roles) {
    cJSON_DeleteItemFromObjectCaseSensitive(op, "security");
    cJSON_DeleteItemFromObjectCaseSensitive(op, "x-roles");
    cJSON *sec = cJSON_AddArrayToObject(op, "security");
    cJSON *xr = cJSON_AddArrayToObject(op, "x-roles");
    if (roles == AITBC_ROLE_PUBLIC) {
        cJSON_AddItemToArray(xr, cJSON_CreateString("public"));
        return;
    }
    cJSON *req = cJSON_CreateObject();
    cJSON_AddArrayToObject(req, "ApiKey");
    cJSON_AddItemToArray(sec, req);
    static const struct {
        unsigned bit;
        const char *name;
    } k_roles[] = {
        {AITBC_ROLE_CLIENT, "client"}, {AITBC_ROLE_MINER, "miner"}, {AITBC_ROLE_ADMIN, "admin"}};
    for (size_t i = 0; i < 3; i++)
        if (roles & k_roles[i].bit) cJSON_AddItemToArray(xr, cJSON_CreateString(k_roles[i].name));
}

/* Fill what the route table knows into op (from the shipped file, or a fresh object). */
static void complete_op(cJSON *op, const op_ref *r) {
    const aitbc_route *rt = r->route;
    if (!cJSON_GetObjectItemCaseSensitive(op, "tags")) {
        cJSON *tags = cJSON_AddArrayToObject(op, "tags");
        cJSON_AddItemToArray(tags, cJSON_CreateString(r->plugin));
    }
    add_roles(op, rt->roles);
    add_path_params(op, rt->path);
    if (rt->idempotent) {
        cJSON *params = cJSON_GetObjectItemCaseSensitive(op, "parameters");
        if (!params) params = cJSON_AddArrayToObject(op, "parameters");
        if (!has_param(params, "IdempotencyKey", "header"))
            cJSON_AddItemToArray(params, ref("#/components/parameters/IdempotencyKey"));
    }
    if (rt->body == AITBC_BODY_JSON && !cJSON_GetObjectItemCaseSensitive(op, "requestBody")) {
        cJSON *rb = cJSON_AddObjectToObject(op, "requestBody");
        cJSON *mt =
            cJSON_AddObjectToObject(cJSON_AddObjectToObject(rb, "content"), "application/json");
        cJSON_AddItemToObject(cJSON_AddObjectToObject(mt, "schema"), "type",
                              cJSON_CreateString("object"));
    }
    cJSON *resp = cJSON_GetObjectItemCaseSensitive(op, "responses");
    if (!resp) resp = cJSON_AddObjectToObject(op, "responses");
    if (!cJSON_GetObjectItemCaseSensitive(resp, "default"))
        cJSON_AddItemToObject(resp, "default", ref("#/components/responses/Error"));
}

static void lower(const char *in, char *out, size_t cap) {
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

static cJSON *build(const op_list *l) {
    cJSON *doc = cJSON_Parse((const char *)aitbc_openapi_data[0]);
    if (!doc) return NULL;
    cJSON *shipped = cJSON_DetachItemFromObjectCaseSensitive(doc, "paths");
    cJSON *paths = cJSON_AddObjectToObject(doc, "paths");
    for (size_t i = 0; i < l->n; i++) {
        const op_ref *r = &l->v[i];
        char m[16];
        lower(r->route->method, m, sizeof m);
        cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, r->route->path);
        if (!item) item = cJSON_AddObjectToObject(paths, r->route->path);
        cJSON *from = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(shipped, r->route->path), m);
        cJSON *op = from ? cJSON_Duplicate(from, 1) : cJSON_CreateObject();
        if (!from) {
            char summary[200];
            snprintf(summary, sizeof summary, "%s %s", r->route->method, r->route->path);
            cJSON_AddStringToObject(op, "summary", summary);
            cJSON_AddBoolToObject(op, "x-aitbc-undocumented", 1);
        }
        complete_op(op, r);
        cJSON_AddItemToObject(item, m, op);
    }
    cJSON_Delete(shipped);
    /* The same routes answer under http.path_prefix (as the public URL does). */
    const char *prefix = http_settings()->path_prefix;
    cJSON *servers = cJSON_GetObjectItemCaseSensitive(doc, "servers");
    if (prefix[0] && cJSON_IsArray(servers)) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "url", prefix);
        cJSON_AddStringToObject(s, "description", "the same routes under http.path_prefix");
        cJSON_InsertItemInArray(servers, 0, s);
    }
    return doc;
}

void openapi_handler(aitbc_request *req, void *user) {
    (void)user;
    op_list l = {0};
    http_routes_each(collect, &l);
    cJSON *doc = NULL;
    if (!l.oom) {
        qsort(l.v, l.n, sizeof *l.v, cmp_op);
        doc = build(&l);
    }
    free(l.v);
    if (!doc) {
        http_error(req, 500, "internal", NULL, "Internal error.");
        return;
    }
    http_resp_header(req, "Cache-Control", "no-cache");
    http_respond_json(req, 200, doc);
}
