/* Layout: fokus.stack(list [, dim] [, opts]); views t:expand(shape), t:squeeze([dim]),
 * t:unsqueeze(dim), t:slice(dim, first [, last [, step]]); the copy
 * t:index_select(dim, idx [, opts]). Dims are 1-based, negative ones count from the
 * end. Views share storage with their base (through the core's refcount). */
#include <math.h>

#include "lfokus.h"

/* A 1-based Lua dim in 1..n or -n..-1 as the core's 0-based / negative one. */
static int check_dim(lua_State *L, int arg, const char *fname, int n, int ndim)
{
    lua_Integer d = luaL_checkinteger(L, arg);
    if (d == 0 || d > n || d < -n) luaL_error(L, "%s: dim %d out of range for a %d-d tensor", fname, (int)d, ndim);
    return d > 0 ? (int)d - 1 : (int)d;
}

/* The tensors of a Lua list, borrowed (the list keeps them alive); an array left on
 * the stack owns the pointers. */
static const fokus_tensor **list_arg(lua_State *L, int arg, const char *fname, size_t *n)
{
    if (!lua_istable(L, arg) || lf_totensor(L, arg))
        lf_argerror(L, arg, "%s: tensors: expected a list of fokus.Tensor, got %s", fname, luaL_typename(L, arg));
    size_t len = lua_rawlen(L, arg);
    if (len < 1) lf_argerror(L, arg, "%s: tensors: expected a non-empty list of fokus.Tensor", fname);
    if (len > 65536) lf_argerror(L, arg, "%s: tensors: at most 65536 tensors, got %d", fname, (int)len);
    const fokus_tensor **ts = lua_newuserdata(L, len * sizeof *ts);
    for (size_t i = 1; i <= len; i++) {
        lua_rawgeti(L, arg, (lua_Integer)i);
        ts[i - 1] = lf_totensor(L, -1);
        if (!ts[i - 1])
            lf_argerror(L, arg, "%s: tensors: entry %d must be a fokus.Tensor, got %s", fname, (int)i, luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    *n = len;
    return ts;
}

/* fokus.stack(tensors [, dim = 1] [, {out =}]): a new dim at position dim. */
static int l_stack(lua_State *L)
{
    static const char *const known[] = {"out", NULL};
    lua_settop(L, 3); /* the pointer array lands above the arguments */
    int opts = lua_istable(L, 2) ? 2 : 3;
    size_t n;
    const fokus_tensor **ts = list_arg(L, 1, "stack", &n);
    int nd = ts[0]->ndim;
    int dim = opts == 3 && !lua_isnoneornil(L, 2) ? check_dim(L, 2, "stack", nd + 1, nd) : 0;
    if (dim < 0) dim += nd + 1;
    lf_checkopts(L, opts, "stack", known);
    fokus_tensor *dst = lf_optout(L, opts, "stack");
    fokus_tensor out = {0};
    fokus_error err;
    if (fokus_tensor_stack_ctx(lf_ctx(L), ts, n, dim, dst, &out, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (dst) {
        lf_pushout(L, opts);
        return 1;
    }
    lf_pushtensor(L, &out);
    return 1;
}

/* t:expand(shape) or t:expand(n1, n2, ...): a broadcast view (stride 0 on stretched
 * dims); -1 keeps the size of an existing dim. */
static int m_expand(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    int64_t shape[FOKUS_MAX_DIMS];
    int nd = 0;
    bool table = lua_istable(L, 2);
    int count = table ? (int)lua_rawlen(L, 2) : lua_gettop(L) - 1;
    if (count > FOKUS_MAX_DIMS) return luaL_error(L, "expand: at most %d dims, got %d", FOKUS_MAX_DIMS, count);
    if (count < t->ndim) return luaL_error(L, "expand: shape has %d dims, the tensor %d", count, t->ndim);
    for (int i = 0; i < count; i++) {
        if (table) lua_rawgeti(L, 2, i + 1);
        else lua_pushvalue(L, 2 + i);
        int isint = lua_type(L, -1) == LUA_TNUMBER;
        lua_Number v = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (!isint || v != floor(v) || v < -1 || v > 9.2e18)
            return luaL_error(L, "expand: size %d must be an integer >= 0 or -1", i + 1);
        int j = i - (count - t->ndim); /* the tensor's dims align to the right */
        if (v == -1 && j < 0) return luaL_error(L, "expand: size %d is -1 but the tensor has no dim there", i + 1);
        shape[nd++] = v == -1 ? t->shape[j] : (int64_t)v;
    }
    fokus_tensor out;
    fokus_error err;
    if (fokus_tensor_expand(&out, t, nd, shape, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

/* t:squeeze([dim]) */
static int m_squeeze(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    bool all = lua_isnoneornil(L, 2);
    int dim = all ? 0 : check_dim(L, 2, "squeeze", t->ndim, t->ndim);
    fokus_tensor out;
    fokus_error err;
    if (fokus_tensor_squeeze(&out, t, dim, all, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

/* t:unsqueeze(dim): dim in 1..ndim+1 (-1 appends) */
static int m_unsqueeze(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    int dim = check_dim(L, 2, "unsqueeze", t->ndim + 1, t->ndim);
    fokus_tensor out;
    fokus_error err;
    if (fokus_tensor_unsqueeze(&out, t, dim, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

/* t:slice(dim, first [, last = -1 [, step = 1]]): elements first..last (1-based,
 * inclusive; negative count from the end; clamped to the dim as string.sub does). */
static int m_slice(lua_State *L)
{
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    if (t->ndim == 0) return luaL_error(L, "slice: cannot slice a 0-d tensor");
    int dim = check_dim(L, 2, "slice", t->ndim, t->ndim);
    int d = dim < 0 ? dim + t->ndim : dim;
    const int64_t size = t->shape[d];
    lua_Integer first = luaL_checkinteger(L, 3);
    lua_Integer last = luaL_optinteger(L, 4, -1);
    lua_Integer step = luaL_optinteger(L, 5, 1);
    if (step < 1) return lf_argerror(L, 5, "slice: step must be >= 1, got %d", (int)step);
    if (first < 0) first += size + 1;
    if (last < 0) last += size + 1;
    if (first < 1) first = 1;
    if (last > size) last = size;
    int64_t start = first - 1, stop = last;
    if (start > size) start = size;
    if (stop < start) stop = start;
    fokus_tensor out;
    fokus_error err;
    if (fokus_tensor_slice(&out, t, d, start, stop, step, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

/* t:index_select(dim, idx [, {out =}]): idx a 1-d (or 0-d) integer tensor or a Lua
 * list of integers, 1-based. */
static int m_index_select(lua_State *L)
{
    static const char *const known[] = {"out", NULL};
    fokus_tensor *t = lf_checktensor(L, 1, "self");
    lua_settop(L, 4); /* the index array lands above the arguments */
    int dim = check_dim(L, 2, "index_select", t->ndim, t->ndim);
    lf_checkopts(L, 4, "index_select", known);
    fokus_tensor *it = lf_totensor(L, 3);
    int64_t n;
    int64_t *idx;
    if (it) {
        if (fokus_dtype_is_float(it->dtype) || it->dtype == FOKUS_BOOL || it->ndim > 1) {
            char b[96];
            return lf_argerror(L, 3, "index_select: idx: expected a 1-d integer tensor or a list of integers, got %s %s",
                               fokus_dtype_name(it->dtype), fokus_shape_str(it, b, sizeof b));
        }
        n = fokus_tensor_numel(it);
        idx = lua_newuserdata(L, (size_t)(n ? n : 1) * sizeof *idx);
        for (int64_t k = 0; k < n; k++) idx[k] = fokus_tensor_get_i64(it, k) - 1;
    } else if (lua_istable(L, 3)) {
        n = (int64_t)lua_rawlen(L, 3);
        idx = lua_newuserdata(L, (size_t)(n ? n : 1) * sizeof *idx);
        for (int64_t k = 0; k < n; k++) {
            lua_rawgeti(L, 3, (lua_Integer)k + 1);
            lua_Number v = lua_tonumber(L, -1);
            if (lua_type(L, -1) != LUA_TNUMBER || v != floor(v) || fabs(v) > 9e18)
                return lf_argerror(L, 3, "index_select: idx: entry %d must be an integer, got %s", (int)k + 1,
                                   lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
            idx[k] = (int64_t)v - 1;
            lua_pop(L, 1);
        }
    } else {
        return lf_argerror(L, 3, "index_select: idx: expected an integer tensor or a list of integers, got %s",
                           luaL_typename(L, 3));
    }
    fokus_tensor *dst = lf_optout(L, 4, "index_select");
    fokus_tensor out = {0};
    fokus_error err;
    if (fokus_index_select(lf_ctx(L), t, dim, idx, n, dst, &out, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (dst) {
        lf_pushout(L, 4);
        return 1;
    }
    lf_pushtensor(L, &out);
    return 1;
}

void lf_open_layout(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"expand", m_expand},   {"squeeze", m_squeeze}, {"unsqueeze", m_unsqueeze},
        {"slice", m_slice},     {"index_select", m_index_select}, {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {{"stack", l_stack}, {NULL, NULL}};
    /* the methods join the Tensor's method table (its __index) */
    luaL_getmetatable(L, LF_TENSOR);
    lua_getfield(L, -1, "__methods");
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 2);
    luaL_setfuncs(L, funcs, 0);
}
