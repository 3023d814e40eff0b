/* The Lua module `fokus.core`: the per-state context, error translation and option
 * checking shared by every part of the binding. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lfokus.h"

#define LF_CONTEXT "fokus.Context"

/* Dead tensor bytes the binding lets pile up before it forces a collection, at least.
 * Small on purpose: the dead blocks of a loop cycle through the cache, and a cycle
 * that fits the CPU caches keeps a small op's output warm (attend at 12x77x77x64 ran
 * 1.3x slower in a loop with 64 MiB than with 8 MiB). */
#define GC_FLOOR ((uint64_t)8 << 20)
/* ... and at least this many times the Lua heap, so the work of a full collection
 * (proportional to the heap, ~0.25 ns per byte: 31 us at 0.4 MB, 3.5 ms at 15 MB)
 * stays small next to the allocation that triggers it (writing a tensor costs
 * ~0.1 ns per byte or more). */
#define GC_HEAP_FACTOR 8

typedef struct lf_context {
    fokus_ctx *ctx;
    uint64_t gc_mark;   /* allocator total at the last collection this binding forced */
} lf_context;

/* The context lives in the registry under a light key: one per Lua state, so two
 * states in two threads never share a pool. */
static const char ctx_key = 0;

static lf_context *context(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ctx_key);
    lf_context *c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!c || !c->ctx) luaL_error(L, "fokus: context is closed");
    return c;
}

fokus_ctx *lf_ctx(lua_State *L)
{
    return context(L)->ctx;
}

/* Lua sees a tensor as a userdata of ~100 bytes, so on its own it would let thousands
 * of dead 16 MiB results pile up before it collects. Tensor bytes therefore drive a
 * full collection: once the bytes handed out since the last one exceed GC_FLOOR (or
 * GC_HEAP_FACTOR times the Lua heap, if more), dead tensors are collected and their
 * blocks go back to the allocator's cache, where the next results find them while
 * they are still in the CPU's caches. The work is proportional to the allocation, as
 * Lua's own pacing is; a collector stopped by the script stays stopped.
 * The budget does not grow with the live tensor bytes (it did, as Lua's pause does):
 * a collection costs the same however many bytes the live tensors hold, and with a
 * model's weights live (hundreds of MiB) the dead results of a loop cycled through
 * that many bytes of cold blocks (attend at 12x77x77x64 from Lua 1.11x OpenBLAS after
 * the 2048^2 products of the bench, 1.24-1.28x alone). */
void lf_gc_account(lua_State *L)
{
    lf_context *c = context(L);
    fokus_memstats s;
    fokus_allocator_stats(fokus_ctx_allocator(c->ctx), &s);
    uint64_t budget = GC_FLOOR;
    uint64_t heap = (uint64_t)lua_gc(L, LUA_GCCOUNT) * 1024 * GC_HEAP_FACTOR;
    if (heap > budget) budget = heap;
    if (s.total - c->gc_mark <= budget || !lua_gc(L, LUA_GCISRUNNING)) return;
    /* the collector finalizes the newest dead tensors first; held and cached in
     * reverse, the youngest block (written last, still warm) is handed out first */
    fokus_allocator *a = fokus_ctx_allocator(c->ctx);
    fokus_allocator_hold_frees(a, true);
    lua_gc(L, LUA_GCCOLLECT);
    fokus_allocator_hold_frees(a, false);
    fokus_allocator_stats(fokus_ctx_allocator(c->ctx), &s);
    c->gc_mark = s.total;
}

static int context_gc(lua_State *L)
{
    lf_context *c = luaL_checkudata(L, 1, LF_CONTEXT);
    fokus_ctx_free(c->ctx);
    c->ctx = NULL;
    return 0;
}

int lf_argerror(lua_State *L, int arg, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return luaL_argerror(L, arg, buf);
}

int lf_raise(lua_State *L, const fokus_error *err)
{
    return luaL_error(L, "%s", err->msg);
}

int lf_status(lua_State *L, fokus_status st, const fokus_error *err, const char *prefix)
{
    if (st == FOKUS_EINVAL || st == FOKUS_ERANGE) return lf_raise(L, err);
    luaL_pushfail(L);
    if (prefix)
        lua_pushfstring(L, "%s: %s", prefix, err->msg);
    else
        lua_pushstring(L, err->msg);
    return 2;
}

/* ---------------------------------------------------------------- options */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];
    if (la >= 63 || lb >= 63) return 99;
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

void lf_checkopts(lua_State *L, int arg, const char *fname, const char *const *known)
{
    if (lua_isnoneornil(L, arg)) return;
    if (!lua_istable(L, arg))
        lf_argerror(L, arg, "options: expected a table, got %s", luaL_typename(L, arg));
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: option keys must be strings, got %s", fname, luaL_typename(L, -1));
        const char *k = lua_tostring(L, -1);
        const char *best = NULL;
        size_t bestd = 99;
        bool ok = false;
        for (const char *const *p = known; *p; p++) {
            if (strcmp(*p, k) == 0) ok = true;
            size_t d = edit_distance(*p, k);
            if (d < bestd) {
                bestd = d;
                best = *p;
            }
        }
        if (!ok) {
            if (best && bestd <= 2)
                luaL_error(L, "%s: unknown option '%s' (did you mean '%s'?)", fname, k, best);
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (const char *const *p = known; *p; p++) {
                if (p != known) luaL_addstring(&b, ", ");
                luaL_addstring(&b, *p);
            }
            luaL_pushresult(&b);
            luaL_error(L, "%s: unknown option '%s' (known: %s)", fname, k, lua_tostring(L, -1));
        }
    }
}

/* Pushes opts[key] and returns its type (LUA_TNIL when there is no table). */
static int getopt(lua_State *L, int arg, const char *key)
{
    if (!lua_istable(L, arg)) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    return lua_getfield(L, arg, key);
}

static void opt_type_error(lua_State *L, const char *fname, const char *key, const char *want)
{
    luaL_error(L, "%s: option '%s' must be %s, got %s", fname, key, want, luaL_typename(L, -1));
}

int lf_optbool(lua_State *L, int arg, const char *fname, const char *key, int def)
{
    int t = getopt(L, arg, key);
    int v = def;
    if (t == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (t != LUA_TNIL)
        opt_type_error(L, fname, key, "a boolean");
    lua_pop(L, 1);
    return v;
}

lua_Number lf_optnumber(lua_State *L, int arg, const char *fname, const char *key, lua_Number def)
{
    int t = getopt(L, arg, key);
    lua_Number v = def;
    if (t == LUA_TNUMBER)
        v = lua_tonumber(L, -1);
    else if (t != LUA_TNIL)
        opt_type_error(L, fname, key, "a number");
    lua_pop(L, 1);
    return v;
}

lua_Integer lf_optinteger(lua_State *L, int arg, const char *fname, const char *key, lua_Integer def)
{
    int t = getopt(L, arg, key);
    lua_Integer v = def;
    if (t == LUA_TNUMBER) {
        int isint;
        v = lua_tointegerx(L, -1, &isint);
        if (!isint) luaL_error(L, "%s: option '%s' must be an integer, got %s", fname, key, lua_tostring(L, -1));
    } else if (t != LUA_TNIL) {
        opt_type_error(L, fname, key, "an integer");
    }
    lua_pop(L, 1);
    return v;
}

const char *lf_optstring(lua_State *L, int arg, const char *fname, const char *key, const char *def)
{
    int t = getopt(L, arg, key);
    const char *v = def;
    if (t == LUA_TSTRING)
        v = lua_tostring(L, -1); /* anchored in the options table */
    else if (t != LUA_TNIL)
        opt_type_error(L, fname, key, "a string");
    lua_pop(L, 1);
    return v;
}

fokus_tensor *lf_opttensor(lua_State *L, int arg, const char *fname, const char *key)
{
    int t = getopt(L, arg, key);
    fokus_tensor *v = NULL;
    if (t != LUA_TNIL) {
        v = lf_totensor(L, -1);
        if (!v && luaL_testudata(L, -1, LF_TENSOR)) luaL_error(L, "%s: option '%s' is a closed tensor", fname, key);
        if (!v) opt_type_error(L, fname, key, "a fokus.Tensor");
    }
    lua_pop(L, 1); /* the tensor stays referenced by the options table */
    return v;
}

fokus_tensor *lf_optout(lua_State *L, int arg, const char *fname)
{
    return lf_opttensor(L, arg, fname, "out");
}

void lf_pushout(lua_State *L, int arg)
{
    lua_getfield(L, arg, "out");
}

int lf_weights(lua_State *L, int arg, const char *fname, fokus_st_file *file, const fokus_st_entry **e, size_t *n)
{
    memset(file, 0, sizeof *file);
    if (lua_type(L, arg) == LUA_TSTRING) {
        const char *path = lua_tostring(L, arg);
        fokus_error err;
        if (fokus_st_load(path, file, &err) != FOKUS_OK) {
            luaL_pushfail(L);
            lua_pushfstring(L, "%s: %s", path, err.msg);
            return 2;
        }
        *e = file->entries;
        *n = file->n_entries;
        return 0;
    }
    if (!lua_istable(L, arg))
        return lf_argerror(L, arg, "%s: weights: expected a path or a table of tensors, got %s", fname,
                           luaL_typename(L, arg));
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        lua_pop(L, 1);
        count++;
    }
    fokus_st_entry *v = lua_newuserdatauv(L, (count + 1) * sizeof *v, 0);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        fokus_tensor *t = lf_totensor(L, -1);
        if (lua_type(L, -2) == LUA_TSTRING && t && i < count) { /* borrowed: the table keeps both alive */
            v[i].name = (char *)lua_tostring(L, -2);
            v[i].tensor = *t;
            i++;
        }
        lua_pop(L, 1);
    }
    *e = v;
    *n = i;
    return 0;
}

int lf_weights_error(lua_State *L, int arg, fokus_status st, const fokus_error *err)
{
    if (lua_type(L, arg) != LUA_TSTRING) return lf_raise(L, err);
    if (st == FOKUS_EINVAL) return luaL_error(L, "%s: %s", lua_tostring(L, arg), err->msg);
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", lua_tostring(L, arg), err->msg);
    return 2;
}

void lf_newclass(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
    if (luaL_newmetatable(L, name)) { /* also sets __name, used by luaL_typename */
        luaL_setfuncs(L, meta, 0);
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        /* also kept as __methods: other files add methods there, and the Lua side may
         * replace __index with a function (nodes/fokus/mods.lua) */
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "__methods");
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

/* ---------------------------------------------------------------- module */

static int l_threads(lua_State *L)
{
    fokus_ctx *ctx = lf_ctx(L);
    if (!lua_isnoneornil(L, 1)) {
        lua_Integer n = luaL_checkinteger(L, 1);
        if (n < 0 || n > 1024) lf_argerror(L, 1, "expected 0..1024 threads (0 = online cores), got %d", (int)n);
        fokus_error err;
        fokus_status st = fokus_ctx_set_threads(ctx, (int)n, &err);
        if (st != FOKUS_OK) return lf_raise(L, &err);
    }
    lua_pushinteger(L, fokus_ctx_threads(ctx));
    return 1;
}

/* fokus.memory([opts]) -> {live =, cached =, peak =, limit =, allocs =, reuses =}
 * opts: limit = bytes (cache bound), release = true (scratch and cache back to the
 * system), reset_peak = true. The options apply first; the table shows the result. */
static int l_memory(lua_State *L)
{
    static const char *const known[] = {"limit", "release", "reset_peak", NULL};
    fokus_ctx *ctx = lf_ctx(L);
    fokus_allocator *a = fokus_ctx_allocator(ctx);
    lf_checkopts(L, 1, "memory", known);
    lua_Integer limit = lf_optinteger(L, 1, "memory", "limit", -1);
    if (lua_istable(L, 1)) {
        lua_getfield(L, 1, "limit");
        bool given = !lua_isnil(L, -1);
        lua_pop(L, 1);
        char b[LC_NUMBUF];
        if (given && limit < 0) luaL_error(L, "memory: option 'limit' must be >= 0 bytes, got %s", lc_fmtint(b, limit));
        if (given) fokus_allocator_set_limit(a, (size_t)limit);
    }
    if (lf_optbool(L, 1, "memory", "release", 0)) fokus_ctx_trim(ctx);
    if (lf_optbool(L, 1, "memory", "reset_peak", 0)) fokus_allocator_reset_peak(a);
    fokus_memstats s;
    fokus_allocator_stats(a, &s);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, (lua_Integer)s.live);
    lua_setfield(L, -2, "live");
    lua_pushinteger(L, (lua_Integer)s.cached);
    lua_setfield(L, -2, "cached");
    lua_pushinteger(L, (lua_Integer)s.peak);
    lua_setfield(L, -2, "peak");
    lua_pushinteger(L, (lua_Integer)s.limit);
    lua_setfield(L, -2, "limit");
    lua_pushinteger(L, (lua_Integer)s.allocs);
    lua_setfield(L, -2, "allocs");
    lua_pushinteger(L, (lua_Integer)s.reuses);
    lua_setfield(L, -2, "reuses");
    return 1;
}

static int l_clock(lua_State *L)
{
    lua_pushnumber(L, fokus_clock());
    return 1;
}

static int l_cores(lua_State *L)
{
    lua_pushinteger(L, fokus_online_cores());
    return 1;
}

__attribute__((visibility("default"))) int luaopen_fokus_core(lua_State *L)
{
    luaL_checkversion(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ctx_key);
    bool have = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!have) {
        lf_context *c = lua_newuserdatauv(L, sizeof *c, 0);
        memset(c, 0, sizeof *c);
        if (luaL_newmetatable(L, LF_CONTEXT)) {
            lua_pushcfunction(L, context_gc);
            lua_setfield(L, -2, "__gc");
            lua_pushcfunction(L, context_gc);
            lua_setfield(L, -2, "__close");
        }
        lua_setmetatable(L, -2);
        fokus_error err;
        if (fokus_ctx_new(&c->ctx, 0, &err) != FOKUS_OK) return lf_raise(L, &err);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &ctx_key);
    }
    static const luaL_Reg funcs[] = {
        {"threads", l_threads},
        {"memory", l_memory},
        {"clock", l_clock},
        {"cores", l_cores},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    lua_pushstring(L, FOKUS_VERSION);
    lua_setfield(L, -2, "version");
    lf_open_tensor(L);
    lf_open_io(L);
    lf_open_attend(L);
    lf_open_image(L);
    lf_open_matmul(L);
    lf_open_clip(L);
    lf_open_dit(L);
    lf_open_mmdit(L);
    lf_open_tokenizer(L);
    lf_open_prompt(L);
    lf_open_sampler(L);
    lf_open_ops(L);
    lf_open_reduce(L);
    lf_open_layout(L);
    lf_open_mod(L);
    lf_open_json(L);
    return 1;
}
