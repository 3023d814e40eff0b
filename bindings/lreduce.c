/* Reductions, softmax and norms: t:sum([dim] [, opts]), mean, max, min, argmax,
 * argmin, var, norm, t:softmax(dim [, opts]), t:log_softmax, fokus.layer_norm,
 * fokus.rms_norm. Methods on fokus.Tensor and the same functions on the module
 * (fokus.sum(t, ...)). Dims are 1-based, negative ones count from the end. */
#include <math.h>

#include "lfokus.h"

/* A 1-based Lua dim (negative: from the end) as the core's 0-based / negative one. */
static int check_dim(lua_State *L, int arg, const char *fname, const fokus_tensor *t)
{
    lua_Integer d = luaL_checkinteger(L, arg);
    if (d == 0 || d > t->ndim || d < -t->ndim)
        luaL_error(L, "%s: dim %d out of range for a %d-d tensor", fname, (int)d, t->ndim);
    return d > 0 ? (int)d - 1 : (int)d;
}

/* Destinations of a reduction: opts.out is a tensor (the values; the indices for
 * argmax/argmin) or, for max/min over a dim, a table {values, indices}. */
static void reduce_out(lua_State *L, int opts, const char *fname, bool pair, fokus_reduce_opts *o, bool indices_only)
{
    if (!lua_istable(L, opts)) return;
    lua_getfield(L, opts, "out");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (pair) {
        if (!lua_istable(L, -1) || lf_totensor(L, -1))
            luaL_error(L, "%s: option 'out' must be a table {values, indices} of two tensors, got %s", fname,
                       luaL_typename(L, -1));
        for (int i = 1; i <= 2; i++) {
            lua_rawgeti(L, -1, i);
            fokus_tensor *t = lf_totensor(L, -1);
            if (!t)
                luaL_error(L, "%s: option 'out' entry %d must be a fokus.Tensor, got %s", fname, i, luaL_typename(L, -1));
            if (i == 1) o->out_values = t;
            else o->out_indices = t;
            lua_pop(L, 1); /* referenced by the options table */
        }
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    fokus_tensor *t = lf_optout(L, opts, fname);
    if (indices_only) o->out_indices = t;
    else o->out_values = t;
}

static int reduce(lua_State *L, fokus_reduce_op op, const char *fname)
{
    static const char *const plain[] = {"keepdim", "out", NULL};
    static const char *const var_keys[] = {"keepdim", "out", "correction", "unbiased", NULL};
    static const char *const norm_keys[] = {"keepdim", "out", "p", NULL};
    fokus_tensor *x = lf_checktensor(L, 1, "self");
    int dim = FOKUS_ALL_DIMS, opts = 2;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        dim = check_dim(L, 2, fname, x);
        opts = 3;
    } else if (!lua_isnoneornil(L, 2) && !lua_istable(L, 2)) {
        return lf_argerror(L, 2, "%s: dim: expected an integer or an options table, got %s", fname, luaL_typename(L, 2));
    } else if (lua_isnil(L, 2) && !lua_isnone(L, 3)) {
        opts = 3; /* t:sum(nil, {keepdim = true}) */
    }
    lf_checkopts(L, opts, fname, op == FOKUS_REDUCE_VAR ? var_keys : op == FOKUS_REDUCE_NORM ? norm_keys : plain);
    fokus_reduce_opts o = {false, 1.0, 2.0, NULL, NULL};
    o.keepdim = lf_optbool(L, opts, fname, "keepdim", 0);
    if (op == FOKUS_REDUCE_VAR) {
        int has_c = 0, has_u = 0;
        if (lua_istable(L, opts)) {
            lua_getfield(L, opts, "correction"); /* (lua_getfield returns void before 5.3) */
            lua_getfield(L, opts, "unbiased");
            has_c = !lua_isnil(L, -2);
            has_u = !lua_isnil(L, -1);
            lua_pop(L, 2);
        }
        if (has_c && has_u) luaL_error(L, "var: give 'correction' or 'unbiased', not both");
        o.correction = lf_optnumber(L, opts, fname, "correction", 1.0);
        if (has_u) o.correction = lf_optbool(L, opts, fname, "unbiased", 1) ? 1.0 : 0.0;
        if (!(o.correction >= 0) || isinf(o.correction))
            luaL_error(L, "var: option 'correction' must be a finite number >= 0, got %f", o.correction);
    }
    if (op == FOKUS_REDUCE_NORM) {
        o.p = lf_optnumber(L, opts, fname, "p", 2.0);
        if (isnan(o.p) || (o.p < 0 && !isinf(o.p)))
            luaL_error(L, "norm: option 'p' must be >= 0 or -math.huge, got %f", o.p);
    }
    const bool pair = (op == FOKUS_REDUCE_MAX || op == FOKUS_REDUCE_MIN) && dim != FOKUS_ALL_DIMS;
    const bool idx_only = op == FOKUS_REDUCE_ARGMAX || op == FOKUS_REDUCE_ARGMIN;
    reduce_out(L, opts, fname, pair, &o, idx_only);
    fokus_tensor v = {0}, i = {0};
    fokus_error err;
    fokus_status st = fokus_reduce(lf_ctx(L), op, x, dim, &o, idx_only ? NULL : &v, pair || idx_only ? &i : NULL, &err);
    if (st != FOKUS_OK) return lf_raise(L, &err);
    if (pair) {
        if (o.out_values) {
            lua_getfield(L, opts, "out");
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            lua_remove(L, -3);
        } else {
            lf_pushtensor(L, &v);
            lf_pushtensor(L, &i);
        }
        return 2;
    }
    if (o.out_values || o.out_indices) {
        lf_pushout(L, opts);
        return 1;
    }
    lf_pushtensor(L, idx_only ? &i : &v);
    return 1;
}

static int m_sum(lua_State *L) { return reduce(L, FOKUS_REDUCE_SUM, "sum"); }
static int m_mean(lua_State *L) { return reduce(L, FOKUS_REDUCE_MEAN, "mean"); }
static int m_max(lua_State *L) { return reduce(L, FOKUS_REDUCE_MAX, "max"); }
static int m_min(lua_State *L) { return reduce(L, FOKUS_REDUCE_MIN, "min"); }
static int m_argmax(lua_State *L) { return reduce(L, FOKUS_REDUCE_ARGMAX, "argmax"); }
static int m_argmin(lua_State *L) { return reduce(L, FOKUS_REDUCE_ARGMIN, "argmin"); }
static int m_var(lua_State *L) { return reduce(L, FOKUS_REDUCE_VAR, "var"); }
static int m_norm(lua_State *L) { return reduce(L, FOKUS_REDUCE_NORM, "norm"); }

/* t:softmax(dim [, {out =}]) */
static int softmax(lua_State *L, bool take_log, const char *fname)
{
    static const char *const known[] = {"out", NULL};
    fokus_tensor *x = lf_checktensor(L, 1, "self");
    if (lua_type(L, 2) != LUA_TNUMBER)
        return lf_argerror(L, 2, "%s: dim: expected an integer, got %s", fname, luaL_typename(L, 2));
    int dim = x->ndim == 0 && (luaL_checkinteger(L, 2) == 1 || luaL_checkinteger(L, 2) == -1)
                  ? 0 : check_dim(L, 2, fname, x);
    lf_checkopts(L, 3, fname, known);
    fokus_tensor *dst = lf_optout(L, 3, fname);
    fokus_tensor out = {0};
    fokus_error err;
    if (fokus_softmax(lf_ctx(L), x, dim, take_log, dst, &out, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (dst) {
        lf_pushout(L, 3);
        return 1;
    }
    lf_pushtensor(L, &out);
    return 1;
}

static int m_softmax(lua_State *L) { return softmax(L, false, "softmax"); }
static int m_log_softmax(lua_State *L) { return softmax(L, true, "log_softmax"); }

/* An optional tensor argument (nil allowed). */
static fokus_tensor *opt_tensor(lua_State *L, int arg, const char *fname, const char *name)
{
    if (lua_isnoneornil(L, arg)) return NULL;
    fokus_tensor *t = lf_totensor(L, arg);
    if (!t) lf_argerror(L, arg, "%s: %s: expected a fokus.Tensor or nil, got %s", fname, name, luaL_typename(L, arg));
    return t;
}

/* fokus.layer_norm(x [, weight [, bias]] [, {eps = 1e-5, out =}]) */
static int l_layer_norm(lua_State *L)
{
    static const char *const known[] = {"eps", "out", NULL};
    fokus_tensor *x = lf_checktensor(L, 1, "x");
    int opts = 4;
    for (int a = 2; a <= 3; a++)
        if (lua_istable(L, a) && !lf_totensor(L, a)) {
            opts = a;
            break;
        }
    fokus_tensor *w = opts > 2 ? opt_tensor(L, 2, "layer_norm", "weight") : NULL;
    fokus_tensor *b = opts > 3 ? opt_tensor(L, 3, "layer_norm", "bias") : NULL;
    lf_checkopts(L, opts, "layer_norm", known);
    double eps = lf_optnumber(L, opts, "layer_norm", "eps", 1e-5);
    fokus_tensor *dst = lf_optout(L, opts, "layer_norm");
    fokus_tensor out = {0};
    fokus_error err;
    if (fokus_layer_norm(lf_ctx(L), x, w, b, eps, dst, &out, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (dst) {
        lf_pushout(L, opts);
        return 1;
    }
    lf_pushtensor(L, &out);
    return 1;
}

/* fokus.rms_norm(x [, weight] [, {eps = 1.1920929e-07 (f32 epsilon, as torch), out =}]) */
static int l_rms_norm(lua_State *L)
{
    static const char *const known[] = {"eps", "out", NULL};
    fokus_tensor *x = lf_checktensor(L, 1, "x");
    int opts = lua_istable(L, 2) && !lf_totensor(L, 2) ? 2 : 3;
    fokus_tensor *w = opts > 2 ? opt_tensor(L, 2, "rms_norm", "weight") : NULL;
    lf_checkopts(L, opts, "rms_norm", known);
    double eps = lf_optnumber(L, opts, "rms_norm", "eps", 1.1920928955078125e-07);
    fokus_tensor *dst = lf_optout(L, opts, "rms_norm");
    fokus_tensor out = {0};
    fokus_error err;
    if (fokus_rms_norm(lf_ctx(L), x, w, eps, dst, &out, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (dst) {
        lf_pushout(L, opts);
        return 1;
    }
    lf_pushtensor(L, &out);
    return 1;
}

void lf_open_reduce(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"sum", m_sum},         {"mean", m_mean},     {"max", m_max},       {"min", m_min},
        {"argmax", m_argmax},   {"argmin", m_argmin}, {"var", m_var},       {"norm", m_norm},
        {"softmax", m_softmax}, {"log_softmax", m_log_softmax},            {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"layer_norm", l_layer_norm},
        {"rms_norm", l_rms_norm},
        {NULL, NULL},
    };
    /* the methods join the Tensor's method table (its __index), and the module too */
    luaL_getmetatable(L, LF_TENSOR);
    lua_getfield(L, -1, "__methods");
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 2);
    luaL_setfuncs(L, methods, 0);
    luaL_setfuncs(L, funcs, 0);
}
