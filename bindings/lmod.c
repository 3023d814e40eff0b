/*
 * Score / mask programs (fokus.Mod) and block masks (fokus.BlockMask).
 *
 * The tracer in nodes/fokus/mods.lua records a Lua function once and lowers it to a
 * list of instructions; core.mod_program turns that list into a checked core program.
 * A Mod also caches the block mask of the last shape it was used with (attend with a
 * mask_mod and no block_mask), so repeated calls do not classify the tiles again.
 */
#include <string.h>

#include "lfokus.h"

#define LF_MOD "fokus.Mod"
#define LF_BLOCKMASK "fokus.BlockMask"

typedef struct lf_mod {
    fokus_mod_program p;     /* n == 0 once closed */
    fokus_block_mask cache;  /* cls == NULL: none */
} lf_mod;

typedef struct lf_blockmask {
    fokus_block_mask m;      /* cls == NULL once closed */
} lf_blockmask;

static const char *const op_names[FOKUS_MOD_NOPS] = {
    "const", "bconst", "score", "b", "h", "q", "k", "add", "sub", "mul", "div", "mod", "pow", "min",
    "max", "neg", "abs", "exp", "log", "tanh", "sqrt", "lt", "le", "gt", "ge", "eq", "ne", "and",
    "or", "not", "where", "gather"};

static lf_mod *checkmod(lua_State *L, int arg)
{
    lf_mod *m = (lf_mod *)luaL_checkudata(L, arg, LF_MOD);
    if (m->p.n == 0) luaL_argerror(L, arg, "the mod is closed");
    return m;
}

static int intfield(lua_State *L, int t, const char *key, int i, int def)
{
    lua_getfield(L, t, key);
    int v = def;
    if (!lua_isnil(L, -1)) {
        int ok;
        lua_Integer x = lua_tointegerx(L, -1, &ok);
        if (!ok || x < -1 || x > FOKUS_MOD_MAX_INS)
            luaL_error(L, "mod_program: instruction %d: field '%s' must be an integer", i, key);
        v = (int)x;
    }
    lua_pop(L, 1);
    return v;
}

/* core.mod_program(kind, ins, tensors) -> Mod. kind "score" | "mask"; ins an array of
 * {op = name, a =, b =, c = (1-based operands), k = number, t = tensor index,
 * idx = {operands}}; tensors an array of Tensors. */
static int l_mod_program(lua_State *L)
{
    const char *kinds[] = {"score", "mask", NULL};
    int kind = luaL_checkoption(L, 1, NULL, kinds);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    int n = (int)lua_rawlen(L, 2), nt = (int)lua_rawlen(L, 3);
    if (n < 1 || n > FOKUS_MOD_MAX_INS)
        return luaL_error(L, "mod_program: %d instructions, expected 1..%d", n, FOKUS_MOD_MAX_INS);
    if (nt > FOKUS_MOD_MAX_TENSORS)
        return luaL_error(L, "mod_program: %d captured tensors, at most %d", nt, FOKUS_MOD_MAX_TENSORS);
    fokus_tensor tensors[FOKUS_MOD_MAX_TENSORS];
    for (int t = 0; t < nt; t++) {
        lua_rawgeti(L, 3, t + 1);
        fokus_tensor *x = lf_totensor(L, -1);
        if (!x) return luaL_error(L, "mod_program: captured value %d is not a live tensor", t + 1);
        tensors[t] = *x; /* borrowed until fokus_mod_program_new retains it */
        lua_pop(L, 1);
    }
    fokus_mod_ins *ins = (fokus_mod_ins *)lua_newuserdata(L, sizeof(fokus_mod_ins) * (size_t)n); /* GC-owned scratch */
    memset(ins, 0, sizeof(fokus_mod_ins) * (size_t)n);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 2, i + 1);
        int e = lua_gettop(L);
        if (!lua_istable(L, e)) return luaL_error(L, "mod_program: instruction %d is not a table", i + 1);
        lua_getfield(L, e, "op");
        const char *op = lua_tostring(L, -1);
        int o = -1;
        for (int j = 0; op && j < FOKUS_MOD_NOPS; j++)
            if (strcmp(op, op_names[j]) == 0) o = j;
        if (o < 0) return luaL_error(L, "mod_program: instruction %d: unknown op '%s'", i + 1, op ? op : "?");
        lua_pop(L, 1);
        ins[i].op = o;
        ins[i].a = intfield(L, e, "a", i + 1, 0) - 1;
        ins[i].b = intfield(L, e, "b", i + 1, 0) - 1;
        ins[i].c = intfield(L, e, "c", i + 1, 0) - 1;
        ins[i].tensor = intfield(L, e, "t", i + 1, 0) - 1;
        lua_getfield(L, e, "k");
        ins[i].k = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
        lua_pop(L, 1);
        lua_getfield(L, e, "idx");
        if (lua_istable(L, -1)) {
            int ni = (int)lua_rawlen(L, -1);
            if (ni > 4) return luaL_error(L, "mod_program: instruction %d: %d indices, at most 4", i + 1, ni);
            ins[i].nidx = ni;
            for (int d = 0; d < ni; d++) {
                lua_rawgeti(L, -1, d + 1);
                ins[i].idx[d] = (int)lua_tointeger(L, -1) - 1;
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 2);
    }
    lf_mod *m = (lf_mod *)lua_newuserdata(L, sizeof(lf_mod));
    memset(m, 0, sizeof *m);
    luaL_setmetatable(L, LF_MOD);
    fokus_error err;
    fokus_status st = fokus_mod_program_new(&m->p, kind == 0 ? FOKUS_MOD_KIND_SCORE : FOKUS_MOD_KIND_MASK, ins, n,
                                            tensors, nt, &err);
    if (st != FOKUS_OK) return luaL_error(L, "%s_mod: %s", kinds[kind], err.msg);
    return 1;
}

static int mod_close(lua_State *L)
{
    lf_mod *m = (lf_mod *)luaL_checkudata(L, 1, LF_MOD);
    fokus_mod_program_free(&m->p);
    fokus_block_mask_free(&m->cache);
    return 0;
}

static int mod_tostring(lua_State *L)
{
    lf_mod *m = (lf_mod *)luaL_checkudata(L, 1, LF_MOD);
    if (m->p.n == 0)
        lua_pushstring(L, "fokus.Mod(closed)");
    else
        lua_pushfstring(L, "fokus.Mod(%s, %d instructions, %d tensors)",
                        m->p.kind == FOKUS_MOD_KIND_SCORE ? "score" : "mask", m->p.n, m->p.ntensors);
    return 1;
}

/* mod:eval(score, b, h, q, k) (score mods) or mod:eval(b, h, q, k) (mask mods): the
 * double-precision reference evaluator at one point. */
static int mod_eval(lua_State *L)
{
    lf_mod *m = checkmod(L, 1);
    int a = m->p.kind == FOKUS_MOD_KIND_SCORE ? 3 : 2;
    double s = m->p.kind == FOKUS_MOD_KIND_SCORE ? luaL_checknumber(L, 2) : 0;
    lua_Integer v[4];
    for (int i = 0; i < 4; i++) v[i] = luaL_checkinteger(L, a + i);
    double r = fokus_mod_eval_ref(&m->p, s, v[0], v[1], v[2], v[3]);
    if (m->p.kind == FOKUS_MOD_KIND_MASK)
        lua_pushboolean(L, r != 0);
    else
        lua_pushnumber(L, r);
    return 1;
}

static int mod_kind(lua_State *L)
{
    lf_mod *m = checkmod(L, 1);
    lua_pushstring(L, m->p.kind == FOKUS_MOD_KIND_SCORE ? "score" : "mask");
    return 1;
}

static int mod_size(lua_State *L)
{
    lua_pushinteger(L, checkmod(L, 1)->p.n);
    return 1;
}

/* ---------------------------------------------------------------- block masks */

static lf_blockmask *checkbm(lua_State *L, int arg)
{
    lf_blockmask *b = (lf_blockmask *)luaL_checkudata(L, arg, LF_BLOCKMASK);
    if (!b->m.cls) luaL_argerror(L, arg, "the block mask is closed");
    return b;
}

static int checkblock(lua_State *L, lua_Integer v, const char *fname)
{
    if (v < 16 || v > 64 || v % 16)
        luaL_error(L, "%s: option 'block' must be 16, 32, 48 or 64, got %d", fname, (int)v);
    return (int)v;
}

/* fokus.block_mask(mask_mod, B, H, Nq, Nk [, {block = n | {bq, bk}}]) -> BlockMask */
static int l_block_mask(lua_State *L)
{
    static const char *const known[] = {"block", NULL};
    lf_mod *m = checkmod(L, 1);
    if (m->p.kind != FOKUS_MOD_KIND_MASK) return lf_argerror(L, 1, "expected a mask_mod, got a score_mod");
    int64_t dims[4];
    for (int i = 0; i < 4; i++) {
        lua_Integer v = luaL_checkinteger(L, 2 + i);
        if (v < (i < 2 ? 1 : 0)) return lf_argerror(L, 2 + i, "expected %s, got %d", i < 2 ? ">= 1" : ">= 0", (int)v);
        dims[i] = v;
    }
    lf_checkopts(L, 6, "block_mask", known);
    int bq = 64, bk = 64;
    if (lua_istable(L, 6)) {
        lua_getfield(L, 6, "block");
        if (lua_isinteger(L, -1)) {
            bq = bk = checkblock(L, lua_tointeger(L, -1), "block_mask");
        } else if (lua_istable(L, -1)) {
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1))
                return luaL_error(L, "block_mask: option 'block' must be an integer or {bq, bk}");
            bq = checkblock(L, lua_tointeger(L, -2), "block_mask");
            bk = checkblock(L, lua_tointeger(L, -1), "block_mask");
            lua_pop(L, 2);
        } else if (!lua_isnil(L, -1)) {
            return luaL_error(L, "block_mask: option 'block' must be an integer or {bq, bk}, got %s",
                              luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    lf_blockmask *b = (lf_blockmask *)lua_newuserdata(L, sizeof(lf_blockmask));
    memset(b, 0, sizeof *b);
    luaL_setmetatable(L, LF_BLOCKMASK);
    fokus_error err;
    fokus_status st = fokus_block_mask_build(lf_ctx(L), &m->p, dims[0], dims[1], dims[2], dims[3], bq, bk, &b->m, &err);
    if (st != FOKUS_OK) return lf_raise(L, &err);
    return 1;
}

static int bm_close(lua_State *L)
{
    lf_blockmask *b = (lf_blockmask *)luaL_checkudata(L, 1, LF_BLOCKMASK);
    fokus_block_mask_free(&b->m);
    return 0;
}

static int bm_tostring(lua_State *L)
{
    lf_blockmask *b = (lf_blockmask *)luaL_checkudata(L, 1, LF_BLOCKMASK);
    if (!b->m.cls) {
        lua_pushstring(L, "fokus.BlockMask(closed)");
        return 1;
    }
    const fokus_block_mask *m = &b->m;
    lua_pushfstring(L, "fokus.BlockMask(%dx%dx%dx%d, blocks %dx%d: %d empty, %d partial, %d full)", (int)m->B,
                    (int)m->H, (int)m->Nq, (int)m->Nk, m->bq, m->bk, (int)m->counts[0], (int)m->counts[1],
                    (int)m->counts[2]);
    return 1;
}

/* bm:counts() -> {empty =, partial =, full =} (tiles of the stored [Bm, Hm] extent) */
static int bm_counts(lua_State *L)
{
    lf_blockmask *b = checkbm(L, 1);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)b->m.counts[FOKUS_BLOCK_EMPTY]);
    lua_setfield(L, -2, "empty");
    lua_pushinteger(L, (lua_Integer)b->m.counts[FOKUS_BLOCK_PARTIAL]);
    lua_setfield(L, -2, "partial");
    lua_pushinteger(L, (lua_Integer)b->m.counts[FOKUS_BLOCK_FULL]);
    lua_setfield(L, -2, "full");
    return 1;
}

/* bm:class(b, h, qblock, kblock) -> "empty" | "partial" | "full" (1-based) */
static int bm_class(lua_State *L)
{
    static const char *const names[] = {"empty", "partial", "full"};
    lf_blockmask *b = checkbm(L, 1);
    const fokus_block_mask *m = &b->m;
    const int64_t lim[4] = {m->B, m->H, m->nqb, m->nkb};
    int64_t v[4];
    for (int i = 0; i < 4; i++) {
        lua_Integer x = luaL_checkinteger(L, 2 + i);
        if (x < 1 || x > lim[i]) return lf_argerror(L, 2 + i, "expected 1..%d, got %d", (int)lim[i], (int)x);
        v[i] = x - 1;
    }
    const int64_t bb = m->Bm == 1 ? 0 : v[0], hh = m->Hm == 1 ? 0 : v[1];
    lua_pushstring(L, names[m->cls[((bb * m->Hm + hh) * m->nqb + v[2]) * m->nkb + v[3]]]);
    return 1;
}

/* ---------------------------------------------------------------- attend options */

const fokus_mod_program *lf_optmod(lua_State *L, int arg, const char *fname, const char *key)
{
    if (!lua_istable(L, arg)) return NULL;
    lua_getfield(L, arg, key);
    const fokus_mod_program *p = NULL;
    if (!lua_isnil(L, -1)) {
        lf_mod *m = (lf_mod *)luaL_testudata(L, -1, LF_MOD);
        if (!m) luaL_error(L, "%s: option '%s' must be a fokus.Mod, got %s", fname, key, luaL_typename(L, -1));
        if (m->p.n == 0) luaL_error(L, "%s: option '%s' is a closed mod", fname, key);
        p = &m->p;
    }
    lua_pop(L, 1); /* the option table keeps it alive */
    return p;
}

const fokus_block_mask *lf_optblockmask(lua_State *L, int arg, const char *fname, const char *key)
{
    if (!lua_istable(L, arg)) return NULL;
    lua_getfield(L, arg, key);
    const fokus_block_mask *m = NULL;
    if (!lua_isnil(L, -1)) {
        lf_blockmask *b = (lf_blockmask *)luaL_testudata(L, -1, LF_BLOCKMASK);
        if (!b) luaL_error(L, "%s: option '%s' must be a fokus.BlockMask, got %s", fname, key, luaL_typename(L, -1));
        if (!b->m.cls) luaL_error(L, "%s: option '%s' is a closed block mask", fname, key);
        m = &b->m;
    }
    lua_pop(L, 1);
    return m;
}

const fokus_block_mask *lf_mod_blockmask(lua_State *L, const fokus_mod_program *mask, int64_t B, int64_t H,
                                         int64_t Nq, int64_t Nk, const char *fname)
{
    lf_mod *m = (lf_mod *)((char *)mask - offsetof(lf_mod, p));
    fokus_block_mask *c = &m->cache;
    if (c->cls && c->B == B && c->H == H && c->Nq == Nq && c->Nk == Nk) return c;
    fokus_block_mask_free(c);
    fokus_error err;
    fokus_status st = fokus_block_mask_build(lf_ctx(L), mask, B, H, Nq, Nk, 64, 64, c, &err);
    if (st != FOKUS_OK) {
        lf_raise(L, &err);
        return NULL;
    }
    (void)fname;
    return c;
}

void lf_open_mod(lua_State *L)
{
    static const luaL_Reg mmeta[] = {{"__gc", mod_close}, {"__close", mod_close}, {"__tostring", mod_tostring},
                                     {NULL, NULL}};
    static const luaL_Reg mmethods[] = {{"eval", mod_eval}, {"kind", mod_kind}, {"size", mod_size},
                                        {"close", mod_close}, {NULL, NULL}};
    static const luaL_Reg bmeta[] = {{"__gc", bm_close}, {"__close", bm_close}, {"__tostring", bm_tostring},
                                     {NULL, NULL}};
    static const luaL_Reg bmethods[] = {{"counts", bm_counts}, {"class", bm_class}, {"close", bm_close},
                                        {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"mod_program", l_mod_program}, {"block_mask", l_block_mask}, {NULL, NULL}};
    lf_newclass(L, LF_MOD, mmeta, mmethods);
    lf_newclass(L, LF_BLOCKMASK, bmeta, bmethods);
    luaL_setfuncs(L, funcs, 0);
}
