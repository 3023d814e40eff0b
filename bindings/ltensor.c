/* fokus.Tensor: constructors, queries, views and conversions. Dimensions and indices
 * are 1-based on the Lua side and 0-based in the core. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lfokus.h"

/* Per-state counter giving randn calls without a seed a reproducible sequence. */
static const char seed_key = 0;

/* ---------------------------------------------------------------- helpers */

fokus_tensor *lf_totensor(lua_State *L, int arg)
{
    lf_tensor *u = luaL_testudata(L, arg, LF_TENSOR);
    if (!u || !u->t.storage) return NULL;
    return &u->t;
}

fokus_tensor *lf_checktensor(lua_State *L, int arg, const char *name)
{
    lf_tensor *u = luaL_testudata(L, arg, LF_TENSOR);
    if (!u) lf_argerror(L, arg, "%s: expected a fokus.Tensor, got %s", name, luaL_typename(L, arg));
    if (!u->t.storage) lf_argerror(L, arg, "%s: tensor is closed", name);
    return &u->t;
}

void lf_pushtensor(lua_State *L, fokus_tensor *t)
{
    lf_tensor *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->t = *t;
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, LF_TENSOR);
    lf_gc_account(L);
}

int lf_checkshape(lua_State *L, int arg, const char *fname, int64_t shape[FOKUS_MAX_DIMS])
{
    if (!lua_istable(L, arg))
        return lf_argerror(L, arg, "%s: shape must be a table of sizes like {2, 3}, got %s", fname,
                           luaL_typename(L, arg));
    lua_Integer n = luaL_len(L, arg);
    if (n > FOKUS_MAX_DIMS)
        return lf_argerror(L, arg, "%s: shape has %d dimensions, at most %d supported", fname, (int)n,
                           FOKUS_MAX_DIMS);
    for (lua_Integer i = 1; i <= n; i++) {
        int isint;
        lua_geti(L, arg, i);
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < 0)
            lf_argerror(L, arg, "%s: shape entry %d must be a non-negative integer, got %s", fname, (int)i,
                        lua_isnumber(L, -1) ? lua_tostring(L, -1) : luaL_typename(L, -1));
        lua_pop(L, 1);
        shape[i - 1] = v;
    }
    return (int)n;
}

fokus_dtype lf_checkdtype(lua_State *L, int arg, const char *fname)
{
    const char *s = luaL_checkstring(L, arg);
    fokus_dtype dt;
    if (!fokus_dtype_parse(s, &dt))
        lf_argerror(L, arg, "%s: unknown dtype '%s' (expected f32, f16, bf16, i32, i64, u8 or bool)", fname, s);
    return dt;
}

void lf_pushshape(lua_State *L, const fokus_tensor *t)
{
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, t->shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int check_dim(lua_State *L, int arg, const fokus_tensor *t, const char *fname)
{
    lua_Integer d = luaL_checkinteger(L, arg);
    if (d < 1 || d > t->ndim)
        lf_argerror(L, arg, "%s: dim must be in 1..%d, got %d", fname, t->ndim, (int)d);
    return (int)d - 1;
}

/* ---------------------------------------------------------------- constructors */

/* Shape of a nested table, following first elements. */
static int nested_shape(lua_State *L, int idx, int64_t shape[FOKUS_MAX_DIMS])
{
    int nd = 0;
    lua_pushvalue(L, idx);
    while (lua_istable(L, -1)) {
        if (nd == FOKUS_MAX_DIMS) luaL_error(L, "tensor: more than %d levels of nesting", FOKUS_MAX_DIMS);
        shape[nd++] = (int64_t)luaL_len(L, -1);
        if (shape[nd - 1] == 0) break;
        lua_geti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return nd;
}

static void nested_fill(lua_State *L, int level, int nd, const int64_t *shape, fokus_tensor *t,
                        int64_t *flat, char *path, size_t pathlen)
{
    /* the value to read is on top of the stack */
    if (level == nd) {
        double v = 0;
        if (lua_type(L, -1) == LUA_TNUMBER)
            v = lua_tonumber(L, -1);
        else if (lua_type(L, -1) == LUA_TBOOLEAN)
            v = lua_toboolean(L, -1);
        else
            luaL_error(L, "tensor: element %s is %s, expected a number", pathlen ? path : "{}",
                       luaL_typename(L, -1));
        if (!fokus_dtype_is_float(t->dtype)) {
            if (t->dtype == FOKUS_BOOL) {
                v = v != 0;
            } else if (lua_isinteger(L, -1)) {
                lua_Integer iv = lua_tointeger(L, -1);
                int64_t lo = t->dtype == FOKUS_U8 ? 0 : t->dtype == FOKUS_I32 ? INT32_MIN : INT64_MIN;
                int64_t hi = t->dtype == FOKUS_U8 ? 255 : t->dtype == FOKUS_I32 ? INT32_MAX : INT64_MAX;
                if (iv < lo || iv > hi)
                    {
                    char b[LC_NUMBUF];
                    luaL_error(L, "tensor: element %s (%s) does not fit %s", path, lc_fmtint(b, iv),
                               fokus_dtype_name(t->dtype));
                }
                /* store exactly, also beyond 2^53 */
                char *p = (char *)t->data + (*flat) * (int64_t)fokus_dtype_size(t->dtype);
                if (t->dtype == FOKUS_I64) *(int64_t *)p = iv;
                else if (t->dtype == FOKUS_I32) *(int32_t *)p = (int32_t)iv;
                else *(uint8_t *)p = (uint8_t)iv;
                (*flat)++;
                return;
            } else if (v != floor(v) || !isfinite(v)) {
                char b[LC_NUMBUF];
                luaL_error(L, "tensor: element %s is %s, not an integer for dtype %s", path, lc_fmtnum(b, v),
                           fokus_dtype_name(t->dtype));
            } else {
                lua_Integer iv = 0;
                if (!lua_numbertointeger(v, &iv)) luaL_error(L, "tensor: element %s out of range", path);
                lua_pushinteger(L, iv);
                lua_replace(L, -2);
                nested_fill(L, level, nd, shape, t, flat, path, pathlen);
                return;
            }
        }
        fokus_tensor_set(t, (*flat)++, v);
        return;
    }
    if (!lua_istable(L, -1) || (int64_t)luaL_len(L, -1) != shape[level])
        luaL_error(L, "tensor: ragged nested table at %s (expected %d elements, got %s)", pathlen ? path : "{}",
                   (int)shape[level],
                   lua_istable(L, -1) ? lua_pushfstring(L, "%d", (int)luaL_len(L, -1)) : luaL_typename(L, -1));
    luaL_checkstack(L, 4, "tensor: nesting too deep");
    for (int64_t i = 1; i <= shape[level]; i++) {
        int n = snprintf(path + pathlen, 256 - pathlen, pathlen ? "[%lld]" : "[%lld]", (long long)i);
        lua_geti(L, -1, i);
        nested_fill(L, level + 1, nd, shape, t, flat, path, pathlen + (n > 0 ? (size_t)n : 0));
        lua_pop(L, 1);
        path[pathlen] = 0;
    }
}

static fokus_tensor *check_out(lua_State *L, int opts, const char *fname, fokus_dtype dt, int nd,
                               const int64_t *shape, const fokus_tensor *input);

/* fokus.tensor(nested [, dtype] [, {out =}]): with out, the values are read into a new
 * tensor first (a bad element raises before out is touched), then copied into out. */
static int l_tensor(lua_State *L)
{
    static const char *const known[] = {"out", NULL};
    int64_t shape[FOKUS_MAX_DIMS];
    const int opts = lua_istable(L, 2) ? 2 : 3;
    fokus_dtype dt = opts == 2 || lua_isnoneornil(L, 2) ? FOKUS_F32 : lf_checkdtype(L, 2, "tensor");
    if (!lua_istable(L, 1) && lua_type(L, 1) != LUA_TNUMBER && lua_type(L, 1) != LUA_TBOOLEAN)
        return lf_argerror(L, 1, "tensor: expected a (nested) table of numbers, got %s", luaL_typename(L, 1));
    lf_checkopts(L, opts, "tensor", known);
    int nd = nested_shape(L, 1, shape);
    fokus_tensor *dst = check_out(L, opts, "tensor", dt, nd, shape, NULL);
    fokus_tensor t;
    fokus_error err;
    if (fokus_tensor_new_ctx(lf_ctx(L), &t, dt, nd, shape, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &t); /* owned by Lua now, so an error below cannot leak it */
    fokus_tensor *tp = lf_totensor(L, -1);
    int64_t flat = 0;
    char path[256] = "";
    if (fokus_tensor_numel(tp) > 0) {
        lua_pushvalue(L, 1);
        nested_fill(L, 0, nd, shape, tp, &flat, path, 0);
        lua_pop(L, 1);
    }
    if (dst) {
        if (fokus_tensor_copy(dst, tp, &err) != FOKUS_OK) return lf_raise(L, &err);
        lf_pushout(L, opts);
    }
    return 1;
}

/* Checks opts.out of a function that returns a new tensor of dtype `dt` and the shape
 * of `like` (or nd/shape): NULL when absent, else the checked destination. */
static fokus_tensor *check_out(lua_State *L, int opts, const char *fname, fokus_dtype dt, int nd,
                               const int64_t *shape, const fokus_tensor *input)
{
    fokus_tensor *out = lf_optout(L, opts, fname);
    fokus_error err;
    if (out && fokus_out_check(fname, out, dt, nd, shape, &input, input ? 1 : 0, &err) != FOKUS_OK)
        lf_raise(L, &err);
    return out;
}

/* zeros/ones(shape [, dtype] [, {out =}]) */
static int new_filled(lua_State *L, const char *fname, double value)
{
    static const char *const known[] = {"out", NULL};
    int64_t shape[FOKUS_MAX_DIMS];
    int nd = lf_checkshape(L, 1, fname, shape);
    int opts = lua_istable(L, 2) ? 2 : 3;
    fokus_dtype dt = opts == 2 || lua_isnoneornil(L, 2) ? FOKUS_F32 : lf_checkdtype(L, 2, fname);
    lf_checkopts(L, opts, fname, known);
    fokus_tensor *out = check_out(L, opts, fname, dt, nd, shape, NULL);
    fokus_tensor t;
    fokus_error err;
    if (out) {
        if (fokus_tensor_fill(out, value, &err) != FOKUS_OK) return lf_raise(L, &err);
        lf_pushout(L, opts);
        return 1;
    }
    if (fokus_tensor_new_ctx(lf_ctx(L), &t, dt, nd, shape, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (value != 0 && fokus_tensor_fill(&t, value, &err) != FOKUS_OK) {
        fokus_tensor_release(&t);
        return lf_raise(L, &err);
    }
    lf_pushtensor(L, &t);
    return 1;
}

static int l_zeros(lua_State *L)
{
    return new_filled(L, "zeros", 0);
}

static int l_ones(lua_State *L)
{
    return new_filled(L, "ones", 1);
}

static int l_randn(lua_State *L)
{
    static const char *const known[] = {"seed", "dtype", "out", NULL};
    int64_t shape[FOKUS_MAX_DIMS];
    int nd = lf_checkshape(L, 1, "randn", shape);
    lf_checkopts(L, 2, "randn", known);
    lua_Integer seed;
    if (lua_istable(L, 2) && lua_getfield(L, 2, "seed") != LUA_TNIL) {
        lua_pop(L, 1);
        seed = lf_optinteger(L, 2, "randn", "seed", 0);
    } else {
        if (lua_istable(L, 2)) lua_pop(L, 1);
        lua_rawgetp(L, LUA_REGISTRYINDEX, &seed_key);
        seed = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0x5eed;
        lua_pop(L, 1);
        lua_pushinteger(L, seed + 1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &seed_key);
    }
    const char *dts = lf_optstring(L, 2, "randn", "dtype", "f32");
    fokus_dtype dt;
    if (!fokus_dtype_parse(dts, &dt) || !fokus_dtype_is_float(dt))
        luaL_error(L, "randn: option 'dtype' must be f32, f16 or bf16, got '%s'", dts);
    fokus_tensor t;
    fokus_error err;
    fokus_tensor *out = check_out(L, 2, "randn", dt, nd, shape, NULL);
    if (out) {
        if (fokus_tensor_randn(out, (uint64_t)seed, &err) != FOKUS_OK) return lf_raise(L, &err);
        lf_pushout(L, 2);
        return 1;
    }
    if (fokus_tensor_empty_ctx(lf_ctx(L), &t, dt, nd, shape, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &t);
    if (fokus_tensor_randn(lf_totensor(L, -1), (uint64_t)seed, &err) != FOKUS_OK) return lf_raise(L, &err);
    return 1;
}

/* fokus.seed(n): restarts the sequence used by randn calls without a seed. */
static int l_seed(lua_State *L)
{
    lua_Integer s = luaL_checkinteger(L, 1);
    lua_pushinteger(L, s);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &seed_key);
    return 0;
}

static int l_is_tensor(lua_State *L)
{
    lua_pushboolean(L, lf_totensor(L, 1) != NULL);
    return 1;
}

/* ---------------------------------------------------------------- methods */

static int m_shape(lua_State *L)
{
    lf_pushshape(L, lf_checktensor(L, 1, "self"));
    return 1;
}

static int m_size(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    if (lua_isnoneornil(L, 2)) {
        lf_pushshape(L, t);
        return 1;
    }
    lua_pushinteger(L, t->shape[check_dim(L, 2, t, "size")]);
    return 1;
}

static int m_dim(lua_State *L)
{
    lua_pushinteger(L, lf_checktensor(L, 1, "self")->ndim);
    return 1;
}

static int m_dtype(lua_State *L)
{
    lua_pushstring(L, fokus_dtype_name(lf_checktensor(L, 1, "self")->dtype));
    return 1;
}

static int m_numel(lua_State *L)
{
    lua_pushinteger(L, fokus_tensor_numel(lf_checktensor(L, 1, "self")));
    return 1;
}

static int m_is_contiguous(lua_State *L)
{
    lua_pushboolean(L, fokus_tensor_is_contiguous(lf_checktensor(L, 1, "self")));
    return 1;
}

static void push_elem(lua_State *L, const fokus_tensor *t, int64_t flat)
{
    if (fokus_dtype_is_float(t->dtype))
        lua_pushnumber(L, fokus_tensor_get(t, flat));
    else
        lua_pushinteger(L, fokus_tensor_get_i64(t, flat));
}

static void build_table(lua_State *L, const fokus_tensor *t, int level, int64_t *flat)
{
    if (level == t->ndim) {
        push_elem(L, t, (*flat)++);
        return;
    }
    luaL_checkstack(L, 3, "totable");
    lua_createtable(L, (int)(t->shape[level] < 1 << 24 ? t->shape[level] : 0), 0);
    for (int64_t i = 0; i < t->shape[level]; i++) {
        build_table(L, t, level + 1, flat);
        lua_rawseti(L, -2, i + 1);
    }
}

static int m_totable(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    int64_t flat = 0;
    build_table(L, t, 0, &flat);
    return 1;
}

static int m_item(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    if (fokus_tensor_numel(t) != 1) {
        char b[128];
        return luaL_error(L, "item: tensor %s has %d elements, expected 1", fokus_shape_str(t, b, sizeof b),
                          (int)fokus_tensor_numel(t));
    }
    push_elem(L, t, 0);
    return 1;
}

/* Flat index from 1-based indices at args first..first+ndim-1. */
static int64_t index_args(lua_State *L, const fokus_tensor *t, int first, const char *fname)
{
    int64_t flat = 0;
    for (int d = 0; d < t->ndim; d++) {
        lua_Integer i = luaL_checkinteger(L, first + d);
        if (i < 1 || i > t->shape[d])
            lf_argerror(L, first + d, "%s: index %d out of range 1..%d for dim %d", fname, (int)i, (int)t->shape[d],
                        d + 1);
        flat = flat * t->shape[d] + (i - 1);
    }
    return flat;
}

static int m_get(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    if (lua_gettop(L) - 1 != t->ndim)
        return luaL_error(L, "get: expected %d indices, got %d", t->ndim, lua_gettop(L) - 1);
    push_elem(L, t, index_args(L, t, 2, "get"));
    return 1;
}

/* t:set(i1, ..., in, value) */
static int m_set(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    if (lua_gettop(L) - 2 != t->ndim)
        return luaL_error(L, "set: expected %d indices and a value, got %d arguments", t->ndim, lua_gettop(L) - 1);
    int64_t flat = index_args(L, t, 2, "set");
    lua_Number v = luaL_checknumber(L, 2 + t->ndim);
    fokus_tensor_set(t, flat, v);
    lua_settop(L, 1);
    return 1;
}

static const char *const out_only[] = {"out", NULL};

/* A copy of t in dtype dt, into opts.out (at index `opts`) when given. */
static int copy_to(lua_State *L, const char *fname, fokus_tensor *t, fokus_dtype dt, int opts)
{
    fokus_error err;
    lf_checkopts(L, opts, fname, out_only);
    fokus_tensor *dst = check_out(L, opts, fname, dt, t->ndim, t->shape, t);
    if (dst) {
        if (fokus_tensor_copy(dst, t, &err) != FOKUS_OK) return lf_raise(L, &err);
        lf_pushout(L, opts);
        return 1;
    }
    fokus_tensor out;
    if (fokus_tensor_to_ctx(lf_ctx(L), &out, t, dt, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

/* t:to(dtype [, {out =}]) */
static int m_to(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    return copy_to(L, "to", t, lf_checkdtype(L, 2, "to"), 3);
}

static int m_reshape(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    int64_t shape[FOKUS_MAX_DIMS];
    if (!lua_istable(L, 2)) return lf_argerror(L, 2, "reshape: shape must be a table, got %s", luaL_typename(L, 2));
    lua_Integer n = luaL_len(L, 2);
    if (n > FOKUS_MAX_DIMS) return lf_argerror(L, 2, "reshape: at most %d dimensions", FOKUS_MAX_DIMS);
    for (lua_Integer i = 1; i <= n; i++) {
        int isint;
        lua_geti(L, 2, i);
        shape[i - 1] = lua_tointegerx(L, -1, &isint);
        if (!isint) lf_argerror(L, 2, "reshape: shape entry %d must be an integer (-1 to infer)", (int)i);
        lua_pop(L, 1);
    }
    fokus_tensor out;
    fokus_error err;
    if (fokus_tensor_reshape_ctx(lf_ctx(L), &out, t, (int)n, shape, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

static int m_permute(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    int perm[FOKUS_MAX_DIMS];
    if (!lua_istable(L, 2)) return lf_argerror(L, 2, "permute: dims must be a table like {2, 1, 3}");
    if (luaL_len(L, 2) != t->ndim)
        return lf_argerror(L, 2, "permute: expected %d dims, got %d", t->ndim, (int)luaL_len(L, 2));
    for (int i = 0; i < t->ndim; i++) {
        lua_geti(L, 2, i + 1);
        perm[i] = (int)luaL_optinteger(L, -1, 0) - 1;
        lua_pop(L, 1);
    }
    fokus_tensor out;
    fokus_error err;
    if (fokus_tensor_permute(&out, t, perm, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

static int m_transpose(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    int a = check_dim(L, 2, t, "transpose"), b = check_dim(L, 3, t, "transpose");
    int perm[FOKUS_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    fokus_tensor out;
    fokus_error err;
    if (fokus_tensor_permute(&out, t, perm, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

static int m_narrow(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    int d = check_dim(L, 2, t, "narrow");
    lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
    fokus_tensor out;
    fokus_error err;
    if (fokus_tensor_narrow(&out, t, d, start - 1, len, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

static int m_select(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    int d = check_dim(L, 2, t, "select");
    lua_Integer i = luaL_checkinteger(L, 3);
    fokus_tensor out;
    fokus_error err;
    if (fokus_tensor_select(&out, t, d, i - 1, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

/* t:contiguous([{out =}]): t itself when already contiguous (and no out is given) */
static int m_contiguous(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    if (fokus_tensor_is_contiguous(t) && lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        return 1;
    }
    return copy_to(L, "contiguous", t, t->dtype, 2);
}

/* t:clone([{out =}]) */
static int m_clone(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    return copy_to(L, "clone", t, t->dtype, 2);
}

static int m_release(lua_State *L)
{
    lf_tensor *u = luaL_checkudata(L, 1, LF_TENSOR);
    fokus_tensor_release(&u->t);
    return 0;
}

static int m_tostring(lua_State *L)
{
    lf_tensor *u = luaL_checkudata(L, 1, LF_TENSOR);
    char b[160];
    if (!u->t.storage)
        lua_pushstring(L, "fokus.Tensor(closed)");
    else
        lua_pushfstring(L, "fokus.Tensor(%s, %s)", fokus_dtype_name(u->t.dtype), fokus_shape_str(&u->t, b, sizeof b));
    return 1;
}

/* fokus.cat(tensors [, dim = 1] [, {out =}]) -> the list joined along dim (negative:
 * from the end). */
static int l_cat(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    if (n < 1) lf_argerror(L, 1, "tensors: expected a non-empty list of fokus.Tensor");
    if (n > 4096) lf_argerror(L, 1, "tensors: at most 4096 tensors, got %d", (int)n);
    int opts = lua_istable(L, 2) ? 2 : 3;
    lua_Integer d = opts == 2 ? 1 : luaL_optinteger(L, 2, 1);
    lua_settop(L, 3); /* the array below lands at index 4 */
    const fokus_tensor **ts = lua_newuserdatauv(L, (size_t)n * sizeof *ts, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i); /* raw: no __index could hand over a temporary */
        ts[i - 1] = lf_totensor(L, -1);
        if (!ts[i - 1]) lf_argerror(L, 1, "tensors: entry %d must be a fokus.Tensor, got %s", (int)i, luaL_typename(L, -1));
        lua_pop(L, 1); /* still referenced by the list */
    }
    if (d < 0) d += ts[0]->ndim + 1;
    if (d < 1 || d > ts[0]->ndim) lf_argerror(L, 2, "dim must be in 1..%d, got %d", ts[0]->ndim, (int)d);
    lf_checkopts(L, opts, "cat", out_only);
    fokus_tensor *dst = lf_optout(L, opts, "cat");
    fokus_tensor out;
    fokus_error err;
    if (fokus_tensor_cat_ctx(lf_ctx(L), ts, (size_t)n, (int)d - 1, dst, &out, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (dst) {
        lf_pushout(L, opts);
        return 1;
    }
    lf_pushtensor(L, &out);
    return 1;
}

void lf_open_tensor(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"shape", m_shape},       {"size", m_size},         {"dim", m_dim},
        {"dtype", m_dtype},       {"numel", m_numel},       {"totable", m_totable},
        {"item", m_item},         {"get", m_get},           {"set", m_set},
        {"to", m_to},             {"reshape", m_reshape},   {"permute", m_permute},
        {"transpose", m_transpose}, {"narrow", m_narrow},   {"select", m_select},
        {"contiguous", m_contiguous}, {"clone", m_clone},   {"is_contiguous", m_is_contiguous},
        {"close", m_release},     {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", m_release},
        {"__close", m_release},
        {"__tostring", m_tostring},
        {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"tensor", l_tensor}, {"zeros", l_zeros}, {"ones", l_ones},         {"randn", l_randn},
        {"seed", l_seed},     {"is_tensor", l_is_tensor}, {NULL, NULL},
    };
    lf_newclass(L, LF_TENSOR, meta, methods);
    luaL_setfuncs(L, funcs, 0);
    lua_pushcfunction(L, l_cat);
    lua_setfield(L, -2, "cat");
}
