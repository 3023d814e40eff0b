/* Element-wise tensor arithmetic: the Tensor operators (+ - * / ^, unary -), the
 * methods t:add/sub/mul/div/pow, the unary functions, clamp, comparisons, logical
 * ops, fill and copy, and the module functions where, gelu, arange, linspace, full
 * and rand. Every function returning a tensor takes opts.out. Only argument checks
 * here; the arithmetic is core/linalg (eltwise.c and friends). */
#include <math.h>
#include <string.h>

#include "lfokus.h"

/* Per-state counter giving rand calls without a seed a reproducible sequence. */
static const char rand_seed_key = 0;

static const char *const out_only[] = {"out", NULL};

/* A tensor or a number at stack index idx, reported as argument `argn` of fname. */
static fokus_operand check_operand(lua_State *L, int idx, const char *fname, int argn)
{
    lf_tensor *u = luaL_testudata(L, idx, LF_TENSOR);
    if (u) {
        if (!u->t.storage) luaL_error(L, "%s: argument %d: tensor is closed", fname, argn);
        return fokus_op_tensor(&u->t);
    }
    if (lua_type(L, idx) == LUA_TNUMBER) return fokus_op_scalar((double)lua_tonumber(L, idx));
    luaL_error(L, "%s: argument %d: expected a tensor or number, got %s", fname, argn, luaL_typename(L, idx));
    return fokus_op_scalar(0); /* not reached */
}

static fokus_tensor *check_self(lua_State *L, const char *fname)
{
    lf_tensor *u = luaL_testudata(L, 1, LF_TENSOR);
    if (!u) luaL_error(L, "%s: argument 1: expected a tensor, got %s", fname, luaL_typename(L, 1));
    if (!u->t.storage) luaL_error(L, "%s: argument 1: tensor is closed", fname);
    return &u->t;
}

/* Pushes the result: the out userdata at `opts` when there was one, else the new
 * tensor. */
static int push_result(lua_State *L, fokus_status st, fokus_error *err, const fokus_tensor *dst, int opts,
                       fokus_tensor *res)
{
    if (st != FOKUS_OK) return lf_raise(L, err);
    if (dst)
        lf_pushout(L, opts);
    else
        lf_pushtensor(L, res);
    return 1;
}

/* ---------------------------------------------------------------- binary */

static int binary(lua_State *L, fokus_ew_binop op, int opts)
{
    const char *fname = fokus_ew_binop_name(op);
    fokus_operand a = check_operand(L, 1, fname, 1), b = check_operand(L, 2, fname, 2);
    fokus_tensor *dst = NULL;
    if (opts) {
        lf_checkopts(L, opts, fname, out_only);
        dst = lf_optout(L, opts, fname);
    }
    fokus_tensor res;
    fokus_error err;
    fokus_status st = op >= FOKUS_EW_LT ? fokus_compare(lf_ctx(L), op, a, b, dst, &res, &err)
                                        : fokus_binary(lf_ctx(L), op, a, b, dst, &res, &err);
    return push_result(L, st, &err, dst, opts, &res);
}

/* operators: either side may be a number (2 * t calls __mul(2, t)) */
static int op_add(lua_State *L) { return binary(L, FOKUS_EW_ADD, 0); }
static int op_sub(lua_State *L) { return binary(L, FOKUS_EW_SUB, 0); }
static int op_mul(lua_State *L) { return binary(L, FOKUS_EW_MUL, 0); }
static int op_div(lua_State *L) { return binary(L, FOKUS_EW_DIV, 0); }
static int op_pow(lua_State *L) { return binary(L, FOKUS_EW_POW, 0); }

/* methods t:op(x [, opts]) */
#define METHOD2(name, OP)                                  \
    static int m_##name(lua_State *L)                      \
    {                                                      \
        check_self(L, fokus_ew_binop_name(OP));            \
        return binary(L, OP, 3);                           \
    }
METHOD2(add, FOKUS_EW_ADD)
METHOD2(sub, FOKUS_EW_SUB)
METHOD2(mul, FOKUS_EW_MUL)
METHOD2(div, FOKUS_EW_DIV)
METHOD2(pow, FOKUS_EW_POW)
METHOD2(lt, FOKUS_EW_LT)
METHOD2(le, FOKUS_EW_LE)
METHOD2(gt, FOKUS_EW_GT)
METHOD2(ge, FOKUS_EW_GE)
METHOD2(eq, FOKUS_EW_EQ)
METHOD2(ne, FOKUS_EW_NE)
METHOD2(logical_and, FOKUS_EW_AND)
METHOD2(logical_or, FOKUS_EW_OR)

/* ---------------------------------------------------------------- unary */

static int unary(lua_State *L, fokus_ew_unop op, int opts)
{
    const char *fname = fokus_ew_unop_name(op);
    fokus_tensor *x = check_self(L, fname);
    fokus_tensor *dst = NULL;
    if (opts) {
        lf_checkopts(L, opts, fname, out_only);
        dst = lf_optout(L, opts, fname);
    }
    fokus_tensor res;
    fokus_error err;
    fokus_status st = fokus_unary(lf_ctx(L), op, x, dst, &res, &err);
    return push_result(L, st, &err, dst, opts, &res);
}

static int op_unm(lua_State *L) { return unary(L, FOKUS_EW_NEG, 0); }

#define METHOD1(name, OP)                                  \
    static int m_##name(lua_State *L) { return unary(L, OP, 2); }
METHOD1(exp, FOKUS_EW_EXP)
METHOD1(log, FOKUS_EW_LOG)
METHOD1(sqrt, FOKUS_EW_SQRT)
METHOD1(rsqrt, FOKUS_EW_RSQRT)
METHOD1(abs, FOKUS_EW_ABS)
METHOD1(tanh, FOKUS_EW_TANH)
METHOD1(sigmoid, FOKUS_EW_SIGMOID)
METHOD1(silu, FOKUS_EW_SILU)
METHOD1(relu, FOKUS_EW_RELU)
METHOD1(sin, FOKUS_EW_SIN)
METHOD1(cos, FOKUS_EW_COS)
METHOD1(floor, FOKUS_EW_FLOOR)
METHOD1(neg, FOKUS_EW_NEG)
METHOD1(logical_not, FOKUS_EW_NOT)

/* t:gelu([opts]) and fokus.gelu(x [, opts]): opts.approximate = "none" | "tanh" */
static int m_gelu(lua_State *L)
{
    static const char *const known[] = {"approximate", "out", NULL};
    fokus_tensor *x = check_self(L, "gelu");
    lf_checkopts(L, 2, "gelu", known);
    const char *approx = lf_optstring(L, 2, "gelu", "approximate", "none");
    fokus_ew_unop op;
    if (strcmp(approx, "none") == 0)
        op = FOKUS_EW_GELU;
    else if (strcmp(approx, "tanh") == 0)
        op = FOKUS_EW_GELU_TANH;
    else
        return luaL_error(L, "gelu: option 'approximate' must be \"none\" or \"tanh\", got \"%s\"", approx);
    fokus_tensor *dst = lf_optout(L, 2, "gelu");
    fokus_tensor res;
    fokus_error err;
    fokus_status st = fokus_unary(lf_ctx(L), op, x, dst, &res, &err);
    return push_result(L, st, &err, dst, 2, &res);
}

/* a clamp bound: a number, or nil for none */
static double check_bound(lua_State *L, int idx, int argn)
{
    if (lua_isnoneornil(L, idx)) return NAN;
    if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_error(L, "clamp: argument %d: expected a number or nil, got %s", argn, luaL_typename(L, idx));
    double v = (double)lua_tonumber(L, idx);
    if (isnan(v)) luaL_error(L, "clamp: argument %d: bound is nan", argn);
    return v;
}

/* t:clamp(lo, hi [, opts]) */
static int m_clamp(lua_State *L)
{
    fokus_tensor *x = check_self(L, "clamp");
    double lo = check_bound(L, 2, 2), hi = check_bound(L, 3, 3);
    if (isnan(lo) && isnan(hi)) return luaL_error(L, "clamp: at least one of lo and hi must be given");
    lf_checkopts(L, 4, "clamp", out_only);
    fokus_tensor *dst = lf_optout(L, 4, "clamp");
    fokus_tensor res;
    fokus_error err;
    fokus_status st = fokus_clamp(lf_ctx(L), x, lo, hi, dst, &res, &err);
    return push_result(L, st, &err, dst, 4, &res);
}

/* ---------------------------------------------------------------- in place */

/* t:fill(x) -> t (x a number or a boolean) */
static int m_fill(lua_State *L)
{
    fokus_tensor *t = check_self(L, "fill");
    double v;
    if (lua_type(L, 2) == LUA_TBOOLEAN)
        v = lua_toboolean(L, 2) ? 1.0 : 0.0;
    else if (lua_type(L, 2) == LUA_TNUMBER)
        v = (double)lua_tonumber(L, 2);
    else
        return luaL_error(L, "fill: argument 2: expected a number or boolean, got %s", luaL_typename(L, 2));
    fokus_error err;
    if (fokus_copy(lf_ctx(L), t, fokus_op_scalar(v), &err) != FOKUS_OK) return lf_raise(L, &err);
    lua_settop(L, 1);
    return 1;
}

/* t:copy(src) -> t (src a tensor broadcast to t's shape, or a number) */
static int m_copy(lua_State *L)
{
    fokus_tensor *t = check_self(L, "copy");
    fokus_operand src = check_operand(L, 2, "copy", 2);
    fokus_error err;
    if (fokus_copy(lf_ctx(L), t, src, &err) != FOKUS_OK) return lf_raise(L, &err);
    lua_settop(L, 1);
    return 1;
}

/* ---------------------------------------------------------------- module functions */

/* fokus.where(cond, a, b [, opts]) */
static int l_where(lua_State *L)
{
    fokus_operand c = check_operand(L, 1, "where", 1), a = check_operand(L, 2, "where", 2),
                  b = check_operand(L, 3, "where", 3);
    lf_checkopts(L, 4, "where", out_only);
    fokus_tensor *dst = lf_optout(L, 4, "where");
    fokus_tensor res;
    fokus_error err;
    fokus_status st = fokus_where(lf_ctx(L), c, a, b, dst, &res, &err);
    return push_result(L, st, &err, dst, 4, &res);
}

static lua_Number check_num(lua_State *L, int idx, const char *fname, int argn)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_error(L, "%s: argument %d: expected a number, got %s", fname, argn, luaL_typename(L, idx));
    return lua_tonumber(L, idx);
}

static bool whole(double v)
{
    return v == floor(v) && fabs(v) < 9007199254740992.0;
}

/* opts.dtype (or def) */
static fokus_dtype opt_dtype(lua_State *L, int opts, const char *fname, fokus_dtype def)
{
    const char *s = lf_optstring(L, opts, fname, "dtype", NULL);
    if (!s) return def;
    fokus_dtype dt;
    if (!fokus_dtype_parse(s, &dt))
        luaL_error(L, "%s: unknown dtype '%s' (expected f32, f16, bf16, i32, i64, u8 or bool)", fname, s);
    return dt;
}

/* fokus.arange(n | a, b [, step] [, opts]): whole-number arguments give i64, others f32
 * (opts.dtype overrides) */
static int l_arange(lua_State *L)
{
    static const char *const known[] = {"dtype", "out", NULL};
    int top = lua_gettop(L);
    int opts = top + 1; /* none */
    if (top >= 1 && lua_istable(L, top)) {
        opts = top;
        top--;
    }
    if (top < 1 || top > 3) return luaL_error(L, "arange: expected (n), (a, b) or (a, b, step), got %d numbers", top);
    double a = 0, b, step = 1;
    if (top == 1) {
        b = check_num(L, 1, "arange", 1);
    } else {
        a = check_num(L, 1, "arange", 1);
        b = check_num(L, 2, "arange", 2);
        if (top == 3) step = check_num(L, 3, "arange", 3);
    }
    lf_checkopts(L, opts, "arange", known);
    fokus_dtype dt = opt_dtype(L, opts, "arange", whole(a) && whole(b) && whole(step) ? FOKUS_I64 : FOKUS_F32);
    fokus_tensor *dst = lf_optout(L, opts, "arange");
    fokus_tensor res;
    fokus_error err;
    fokus_status st = fokus_arange(lf_ctx(L), a, b, step, dt, dst, &res, &err);
    return push_result(L, st, &err, dst, opts, &res);
}

/* fokus.linspace(a, b, n [, opts]) */
static int l_linspace(lua_State *L)
{
    double a = check_num(L, 1, "linspace", 1), b = check_num(L, 2, "linspace", 2);
    double n = check_num(L, 3, "linspace", 3);
    if (!whole(n) || n < 0) return luaL_error(L, "linspace: argument 3: expected a count >= 0, got %g", n);
    lf_checkopts(L, 4, "linspace", out_only);
    fokus_tensor *dst = lf_optout(L, 4, "linspace");
    fokus_tensor res;
    fokus_error err;
    fokus_status st = fokus_linspace(lf_ctx(L), a, b, (int64_t)n, dst, &res, &err);
    return push_result(L, st, &err, dst, 4, &res);
}

/* fokus.full(shape, x [, dtype] [, opts]): f32 unless dtype is given (bool for a
 * boolean x) */
static int l_full(lua_State *L)
{
    static const char *const known[] = {"dtype", "out", NULL};
    int64_t shape[FOKUS_MAX_DIMS];
    int nd = lf_checkshape(L, 1, "full", shape);
    double v;
    fokus_dtype dt = FOKUS_F32;
    if (lua_type(L, 2) == LUA_TBOOLEAN) {
        v = lua_toboolean(L, 2) ? 1.0 : 0.0;
        dt = FOKUS_BOOL;
    } else {
        v = check_num(L, 2, "full", 2);
    }
    int opts = 3;
    if (lua_type(L, 3) == LUA_TSTRING) {
        dt = lf_checkdtype(L, 3, "full");
        opts = 4;
    } else if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3)) {
        return luaL_error(L, "full: argument 3: expected a dtype or an options table, got %s", luaL_typename(L, 3));
    }
    lf_checkopts(L, opts, "full", known);
    dt = opt_dtype(L, opts, "full", dt);
    fokus_tensor *dst = lf_optout(L, opts, "full");
    fokus_tensor res;
    fokus_error err;
    fokus_status st = fokus_full(lf_ctx(L), nd, shape, v, dt, dst, &res, &err);
    return push_result(L, st, &err, dst, opts, &res);
}

/* fokus.rand(shape [, {seed =, dtype =, out =}]) */
static int l_rand(lua_State *L)
{
    static const char *const known[] = {"seed", "dtype", "out", NULL};
    int64_t shape[FOKUS_MAX_DIMS];
    int nd = lf_checkshape(L, 1, "rand", shape);
    lf_checkopts(L, 2, "rand", known);
    double seed;
    bool have_seed = false;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "seed");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TNUMBER || !whole(lua_tonumber(L, -1)))
                return luaL_error(L, "rand: option 'seed' must be an integer, got %s",
                                  lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
            seed = (double)lua_tonumber(L, -1);
            have_seed = true;
        }
        lua_pop(L, 1);
    }
    if (!have_seed) {
        /* a per-state sequence of seeds, so unseeded calls differ but a script repeats */
        lua_pushlightuserdata(L, (void *)&rand_seed_key);
        lua_rawget(L, LUA_REGISTRYINDEX);
        seed = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : 0x7a4d;
        lua_pop(L, 1);
        lua_pushlightuserdata(L, (void *)&rand_seed_key);
        lua_pushnumber(L, (lua_Number)(seed + 1));
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    fokus_dtype dt = opt_dtype(L, 2, "rand", FOKUS_F32);
    fokus_tensor *dst = lf_optout(L, 2, "rand");
    fokus_tensor res;
    fokus_error err;
    uint64_t s = seed < 0 ? (uint64_t)(int64_t)seed : (uint64_t)seed;
    fokus_status st = fokus_rand(lf_ctx(L), nd, shape, s, dt, dst, &res, &err);
    return push_result(L, st, &err, dst, 2, &res);
}

/* fokus.gelu(x [, opts]): the function form of t:gelu */
static int l_gelu(lua_State *L)
{
    return m_gelu(L);
}

void lf_open_ops(lua_State *L)
{
    static const luaL_Reg meta[] = {
        {"__add", op_add}, {"__sub", op_sub}, {"__mul", op_mul}, {"__div", op_div},
        {"__pow", op_pow}, {"__unm", op_unm}, {NULL, NULL},
    };
    static const luaL_Reg methods[] = {
        {"add", m_add},       {"sub", m_sub},         {"mul", m_mul},         {"div", m_div},
        {"pow", m_pow},       {"exp", m_exp},         {"log", m_log},         {"sqrt", m_sqrt},
        {"rsqrt", m_rsqrt},   {"abs", m_abs},         {"tanh", m_tanh},       {"sigmoid", m_sigmoid},
        {"silu", m_silu},     {"gelu", m_gelu},       {"relu", m_relu},       {"sin", m_sin},
        {"cos", m_cos},       {"floor", m_floor},     {"neg", m_neg},         {"clamp", m_clamp},
        {"lt", m_lt},         {"le", m_le},           {"gt", m_gt},           {"ge", m_ge},
        {"eq", m_eq},         {"ne", m_ne},           {"logical_and", m_logical_and},
        {"logical_or", m_logical_or}, {"logical_not", m_logical_not},
        {"fill", m_fill},     {"copy", m_copy},       {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"where", l_where}, {"gelu", l_gelu}, {"arange", l_arange}, {"linspace", l_linspace},
        {"full", l_full},   {"rand", l_rand}, {NULL, NULL},
    };
    /* operators on the Tensor metatable; methods added to its __index table (the
     * table itself is left in place: other parts may wrap it) */
    luaL_getmetatable(L, LF_TENSOR);
    luaL_setfuncs(L, meta, 0);
    lua_getfield(L, -1, "__methods");
    if (lua_istable(L, -1)) luaL_setfuncs(L, methods, 0);
    lua_pop(L, 2);
    luaL_setfuncs(L, funcs, 0);
}
