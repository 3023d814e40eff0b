/* JSON for workflows: fokus.json.encode / fokus.json.decode over jansson.
 *
 * Mapping: objects <-> tables with string keys; arrays <-> sequences 1..n; JSON null <->
 * fokus.json.null (a light userdata, so arrays keep their length); integers stay
 * integers (Lua 5.3+ integer subtype; on 5.1/LuaJIT integral numbers below 2^53) and
 * reals print with 17 significant digits, so a value survives a round trip. An empty
 * table encodes as {}. Object keys come out in a stable order: keys made of digits
 * first, by numeric value (ComfyUI's node ids "1", "2", "10"), then the others bytewise.
 * Values JSON cannot hold (functions, userdata, NaN, a cycle, a table mixing array and
 * string keys) raise naming the path; text that is not JSON returns nil, "json: line L,
 * column C: reason". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lfokus.h"

#define MAX_DEPTH 1000

typedef struct {
    char msg[300];
    char path[200];
} enc_err;

/* The path of the value being encoded, for errors: $.a.b[3] (cut at the buffer). */
static void path_index(char *path, size_t size, long long i)
{
    size_t n = strlen(path);
    if (n + 2 < size) snprintf(path + n, size - n, "[%lld]", i);
}

static void path_key(char *path, size_t size, const char *k)
{
    size_t n = strlen(path);
    if (n + 2 < size) snprintf(path + n, size - n, ".%s", k);
}

/* Digit strings first (numerically: shorter is smaller, then bytewise), then the rest
 * bytewise. */
static int digits(const char *s, size_t n)
{
    if (n == 0 || n > 18) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

typedef struct {
    const char *s;
    size_t n;
} key;

static int key_cmp(const void *pa, const void *pb)
{
    const key *a = pa, *b = pb;
    int da = digits(a->s, a->n), db = digits(b->s, b->n);
    if (da != db) return da ? -1 : 1;
    if (da && a->n != b->n) return a->n < b->n ? -1 : 1;
    size_t m = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->s, b->s, m);
    if (c) return c;
    return a->n < b->n ? -1 : a->n > b->n;
}

static json_t *encode(lua_State *L, int idx, int depth, enc_err *e);

/* Stack index of the set of tables being encoded (a cycle is an error, not a hang). */
#define VISITING 3

static json_t *encode_table_body(lua_State *L, int idx, int depth, enc_err *e)
{
    size_t len = lua_rawlen(L, idx), count = 0, nstr = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (lua_type(L, -1) == LUA_TSTRING) nstr++;
    }
    if (count > 0 && count == len) { /* a sequence 1..n */
        json_t *arr = json_array();
        if (!arr) goto oom;
        for (size_t i = 1; i <= len; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i);
            size_t plen = strlen(e->path);
            path_index(e->path, sizeof e->path, (long long)i);
            json_t *v = encode(L, lua_gettop(L), depth + 1, e);
            lua_pop(L, 1);
            if (!v) {
                json_decref(arr);
                return NULL;
            }
            e->path[plen] = 0;
            if (json_array_append_new(arr, v)) {
                json_decref(arr);
                goto oom;
            }
        }
        return arr;
    }
    if (nstr != count) {
        snprintf(e->msg, sizeof e->msg, "a table with %s keys (JSON objects need string keys, arrays 1..n)",
                 len > 0 ? "both array and other" : "non-string");
        return NULL;
    }
    key *keys = count ? malloc(count * sizeof *keys) : NULL;
    if (count && !keys) goto oom;
    size_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        keys[k].s = lua_tolstring(L, -1, &keys[k].n); /* the string stays anchored in the table */
        k++;
    }
    if (count) qsort(keys, count, sizeof *keys, key_cmp);
    json_t *obj = json_object();
    if (!obj) {
        free(keys);
        goto oom;
    }
    for (size_t i = 0; i < count; i++) {
        if (memchr(keys[i].s, 0, keys[i].n)) {
            snprintf(e->msg, sizeof e->msg, "an object key with a NUL byte");
            goto fail;
        }
        lua_pushlstring(L, keys[i].s, keys[i].n);
        lua_rawget(L, idx);
        size_t plen = strlen(e->path);
        path_key(e->path, sizeof e->path, keys[i].s);
        json_t *v = encode(L, lua_gettop(L), depth + 1, e);
        lua_pop(L, 1);
        if (!v) goto fail;
        e->path[plen] = 0;
        if (json_object_set_new(obj, keys[i].s, v)) {
            snprintf(e->msg, sizeof e->msg, "object key is not valid UTF-8");
            goto fail;
        }
    }
    free(keys);
    return obj;
fail:
    free(keys);
    json_decref(obj);
    return NULL;
oom:
    snprintf(e->msg, sizeof e->msg, "out of memory");
    return NULL;
}

static json_t *encode_table(lua_State *L, int idx, int depth, enc_err *e)
{
    lua_pushvalue(L, idx);
    lua_rawget(L, VISITING);
    int seen = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (seen) {
        snprintf(e->msg, sizeof e->msg, "a table that contains itself");
        return NULL;
    }
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, VISITING);
    json_t *r = encode_table_body(L, idx, depth, e);
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, VISITING);
    return r;
}

static json_t *encode(lua_State *L, int idx, int depth, enc_err *e)
{
    if (depth > MAX_DEPTH) {
        snprintf(e->msg, sizeof e->msg, "nesting deeper than %d (a table that contains itself?)", MAX_DEPTH);
        return NULL;
    }
    if (!lua_checkstack(L, 4)) {
        snprintf(e->msg, sizeof e->msg, "Lua stack overflow");
        return NULL;
    }
    json_t *v = NULL;
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        v = json_boolean(lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER: {
#if LUA_VERSION_NUM >= 503
        if (lua_isinteger(L, idx)) {
            v = json_integer((json_int_t)lua_tointeger(L, idx));
            break;
        }
#endif
        lua_Number x = lua_tonumber(L, idx);
        if (x != x || x - x != 0) {
            snprintf(e->msg, sizeof e->msg, "%s is not a JSON number", x != x ? "nan" : x > 0 ? "inf" : "-inf");
            return NULL;
        }
#if LUA_VERSION_NUM < 503
        if (x == (lua_Number)(long long)x && x < 9007199254740992.0 && x > -9007199254740992.0) {
            v = json_integer((json_int_t)x);
            break;
        }
#endif
        v = json_real(x);
        break;
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        v = json_stringn(s, n);
        if (!v) {
            snprintf(e->msg, sizeof e->msg, "string is not valid UTF-8");
            return NULL;
        }
        break;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            v = json_null();
            break;
        }
        /* fallthrough */
    default:
        if (lua_type(L, idx) == LUA_TTABLE) return encode_table(L, idx, depth, e);
        snprintf(e->msg, sizeof e->msg, "a %s cannot be written as JSON", luaL_typename(L, idx));
        return NULL;
    }
    if (!v) snprintf(e->msg, sizeof e->msg, "out of memory");
    return v;
}

/* jansson prints reals with 17 significant digits (0.1 -> 0.10000000000000001); this
 * rewrites each real of its output with the fewest digits that read back to the same
 * double (0.1), keeping a '.' or an exponent so it stays a real. Strings are copied
 * untouched. Returns a malloc'd string or NULL. */
static char *shortest_reals(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(2 * n + 16), *o = out;
    if (!out) return NULL;
    const char *p = in;
    while (*p) {
        if (*p == '"') {
            *o++ = *p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1]) *o++ = *p++;
                *o++ = *p++;
            }
            if (*p) *o++ = *p++;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            const char *q = p;
            int real = 0;
            while (*q && strchr("0123456789+-.eE", *q)) {
                if (*q == '.' || *q == 'e' || *q == 'E') real = 1;
                q++;
            }
            if (real && q - p < 64) {
                char tok[64], buf[40];
                memcpy(tok, p, (size_t)(q - p));
                tok[q - p] = 0;
                double x = strtod(tok, NULL);
                for (int prec = 1; prec <= 17; prec++) {
                    snprintf(buf, sizeof buf, "%.*g", prec, x);
                    if (strtod(buf, NULL) == x) break;
                }
                if (!strpbrk(buf, ".eEni")) strcat(buf, ".0");
                size_t bl = strlen(buf);
                memcpy(o, buf, bl);
                o += bl;
            } else {
                memcpy(o, p, (size_t)(q - p));
                o += q - p;
            }
            p = q;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}

/* fokus.json.encode(value [, {indent = n}]) -> text */
static int l_encode(lua_State *L)
{
    static const char *const known[] = {"indent", NULL};
    luaL_checkany(L, 1);
    lf_checkopts(L, 2, "json.encode", known);
    lua_Integer indent = lf_optinteger(L, 2, "json.encode", "indent", 0);
    if (indent < 0 || indent > 31) return luaL_error(L, "json.encode: indent must be in 0..31, got %d", (int)indent);
    lua_settop(L, 2);
    lua_newtable(L); /* VISITING */
    enc_err e;
    e.msg[0] = 0;
    snprintf(e.path, sizeof e.path, "$");
    json_t *root = encode(L, 1, 0, &e);
    if (!root) return luaL_error(L, "json.encode: %s: %s", e.path, e.msg);
    size_t flags = JSON_ENCODE_ANY | JSON_REAL_PRECISION(17) | (indent ? JSON_INDENT(indent) : JSON_COMPACT);
    char *text = json_dumps(root, flags);
    json_decref(root);
    char *shorter = text ? shortest_reals(text) : NULL;
    free(text);
    if (!shorter) return luaL_error(L, "json.encode: out of memory");
    lua_pushstring(L, shorter);
    free(shorter);
    return 1;
}

static void push_value(lua_State *L, json_t *v)
{
    luaL_checkstack(L, 4, "json.decode: nesting too deep");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            push_value(L, x);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_value(L, json_array_get(v, i));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    default:
        lua_pushlightuserdata(L, NULL);
        break;
    }
}

/* fokus.json.decode(text) -> value | nil, "json: line L, column C: reason" */
static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    json_error_t err;
    json_t *root = json_loadb(s, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!root) {
        lua_pushnil(L);
        lua_pushfstring(L, "json: line %d, column %d: %s", err.line, err.column, err.text);
        return 2;
    }
    push_value(L, root);
    json_decref(root);
    return 1;
}

void lf_open_json(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"json_encode", l_encode}, {"json_decode", l_decode}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "json_null");
}
