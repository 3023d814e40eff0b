/* fokus.DiT: the class-conditional diffusion transformer. fokus.dit(weights [, opts]),
 * fokus.dit.tiny{...}, model:forward(x, t, y [, opts]), model:config(). */
#include <math.h>
#include <string.h>

#include "lfokus.h"

#define LF_DIT "fokus.DiT"

typedef struct lf_dit {
    fokus_dit *m;
} lf_dit;

static fokus_dit *check_dit(lua_State *L, int arg)
{
    lf_dit *u = luaL_checkudata(L, arg, LF_DIT);
    if (!u->m) luaL_argerror(L, arg, "model is closed");
    return u->m;
}

/* Settings from config that the shapes cannot contradict in core; checked against the
 * built model. */
typedef struct extra_config {
    int learn_sigma;            /* -1 not given */
    double mlp_ratio;           /* 0 not given */
    double class_dropout_prob;  /* < 0 not given */
} extra_config;

/* facebookresearch DiT constructor arguments (and the keys of the oracles' config
 * JSON); keys fokus does not need are ignored, so a whole config table can be passed. */
static void read_config(lua_State *L, int opts, fokus_dit_config *c, extra_config *x)
{
    memset(c, 0, sizeof *c);
    x->learn_sigma = -1;
    x->mlp_ratio = 0;
    x->class_dropout_prob = -1;
    if (!lua_istable(L, opts)) return;
    if (lua_getfield(L, opts, "config") == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1)) luaL_error(L, "dit: option 'config' must be a table, got %s", luaL_typename(L, -1));
    int t = lua_gettop(L);
    static const struct {
        const char *key;
        size_t off;
    } ints[] = {
        {"input_size", offsetof(fokus_dit_config, input_size)},
        {"in_channels", offsetof(fokus_dit_config, in_channels)},
        {"out_channels", offsetof(fokus_dit_config, out_channels)},
        {"patch_size", offsetof(fokus_dit_config, patch_size)},
        {"hidden_size", offsetof(fokus_dit_config, hidden_size)},
        {"depth", offsetof(fokus_dit_config, depth)},
        {"num_heads", offsetof(fokus_dit_config, num_heads)},
        {"num_classes", offsetof(fokus_dit_config, num_classes)},
        {"frequency_embedding_size", offsetof(fokus_dit_config, freq_dim)},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        lua_Integer v = lf_optinteger(L, t, "dit: config", ints[i].key, -1);
        if (v == -1) continue;
        if (v < 1) luaL_error(L, "dit: config %s must be positive, got %d", ints[i].key, (int)v);
        *(int64_t *)((char *)c + ints[i].off) = v;
    }
    c->max_period = lf_optnumber(L, t, "dit: config", "max_period", 0);
    c->eps = lf_optnumber(L, t, "dit: config", "norm_eps", 0);
    x->mlp_ratio = lf_optnumber(L, t, "dit: config", "mlp_ratio", 0);
    x->class_dropout_prob = lf_optnumber(L, t, "dit: config", "class_dropout_prob", -1);
    if (c->max_period < 0 || c->eps < 0 || x->mlp_ratio < 0)
        luaL_error(L, "dit: config max_period, norm_eps and mlp_ratio must be positive");
    if (lua_getfield(L, t, "learn_sigma") != LUA_TNIL) {
        if (!lua_isboolean(L, -1))
            luaL_error(L, "dit: config learn_sigma must be a boolean, got %s", luaL_typename(L, -1));
        x->learn_sigma = lua_toboolean(L, -1);
    }
    lua_pop(L, 2);
}

/* What the shapes decide and the config can only confirm. Returns an error message or NULL. */
static const char *check_extra(lua_State *L, const fokus_dit *m, const extra_config *x)
{
    const fokus_dit_config *c = fokus_dit_get_config(m);
    char nb[LC_NUMBUF];
    if (x->learn_sigma >= 0 && x->learn_sigma != (int)c->learn_sigma)
        return lua_pushfstring(L, "dit: config learn_sigma = %s, but the weights have out_channels %d with in_channels %d",
                               x->learn_sigma ? "true" : "false", (int)c->out_channels, (int)c->in_channels);
    if (x->mlp_ratio > 0 && fabs(x->mlp_ratio * (double)c->hidden_size - (double)c->mlp_hidden) >= 1)
        return lua_pushfstring(L, "dit: config mlp_ratio = %s, but the weights have an MLP of %d for width %d",
                               lc_fmtnum(nb, x->mlp_ratio), (int)c->mlp_hidden, (int)c->hidden_size);
    if (x->class_dropout_prob >= 0 && (x->class_dropout_prob > 0) != c->null_class)
        return lua_pushfstring(L, "dit: config class_dropout_prob = %s, but the label table %s a null class (%d rows for %d classes)",
                               lc_fmtnum(nb, x->class_dropout_prob), c->null_class ? "has" : "has no",
                               (int)(c->num_classes + c->null_class), (int)c->num_classes);
    return NULL;
}

static void push_dit(lua_State *L, fokus_dit *m)
{
    lf_dit *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = m;
    luaL_setmetatable(L, LF_DIT);
}

/* fokus.dit(weights [, {prefix =, config =}]): weights is a path or a table from fokus.load. */
static int l_dit(lua_State *L)
{
    static const char *const known[] = {"prefix", "config", NULL};
    lf_checkopts(L, 2, "dit", known);
    const char *prefix = lf_optstring(L, 2, "dit", "prefix", NULL);
    fokus_dit_config cfg;
    extra_config extra;
    read_config(L, 2, &cfg, &extra);
    fokus_st_file file;
    const fokus_st_entry *e;
    size_t n;
    if (lf_weights(L, 1, "dit", &file, &e, &n)) return 2;
    fokus_error err;
    fokus_dit *m = NULL;
    fokus_status st = fokus_dit_new(&m, e, n, prefix, &cfg, &err);
    fokus_st_free(&file); /* the model holds its own references */
    if (st != FOKUS_OK) return lf_weights_error(L, 1, st, &err);
    push_dit(L, m); /* owned by Lua from here */
    const char *bad = check_extra(L, m, &extra);
    if (bad) return lua_error(L);
    return 1;
}

/* fokus.dit.tiny{seed =, hidden_size =, depth =, heads =, in_channels =, patch_size =,
 * input_size =, num_classes =, learn_sigma =} */
static int l_dit_tiny(lua_State *L)
{
    static const char *const known[] = {"seed", "hidden_size", "depth", "heads", "in_channels", "patch_size",
                                        "input_size", "num_classes", "learn_sigma", NULL};
    lf_checkopts(L, 1, "dit.tiny", known);
    lua_Integer seed = lf_optinteger(L, 1, "dit.tiny", "seed", 0);
    fokus_dit_tiny_opts o;
    memset(&o, 0, sizeof o);
    o.hidden_size = lf_optinteger(L, 1, "dit.tiny", "hidden_size", 64);
    o.depth = lf_optinteger(L, 1, "dit.tiny", "depth", 2);
    o.in_channels = lf_optinteger(L, 1, "dit.tiny", "in_channels", 4);
    o.patch_size = lf_optinteger(L, 1, "dit.tiny", "patch_size", 2);
    o.input_size = lf_optinteger(L, 1, "dit.tiny", "input_size", 8);
    o.num_classes = lf_optinteger(L, 1, "dit.tiny", "num_classes", 10);
    o.no_sigma = !lf_optbool(L, 1, "dit.tiny", "learn_sigma", 1);
    /* 16-wide heads by default: 4 for the default width, as in the oracle */
    lua_Integer defh = o.hidden_size >= 16 && o.hidden_size % 16 == 0 ? o.hidden_size / 16 : 1;
    lua_Integer heads = lf_optinteger(L, 1, "dit.tiny", "heads", defh);
    if (heads < 1 || o.hidden_size % heads != 0)
        luaL_error(L, "dit.tiny: heads must divide hidden_size %d, got %d", (int)o.hidden_size, (int)heads);
    if (o.hidden_size < 1 || o.depth < 1 || o.in_channels < 1 || o.patch_size < 1 || o.input_size < 1 || o.num_classes < 1)
        luaL_error(L, "dit.tiny: sizes must be positive");
    fokus_st_entry *e;
    size_t n;
    fokus_error err;
    if (fokus_dit_tiny_weights((uint64_t)seed, &o, &e, &n, &err) != FOKUS_OK) return lf_raise(L, &err);
    fokus_dit_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.num_heads = heads;
    fokus_dit *m;
    fokus_status st = fokus_dit_new(&m, e, n, "", &cfg, &err);
    fokus_st_entries_free(e, n);
    if (st != FOKUS_OK) return lf_raise(L, &err);
    push_dit(L, m);
    return 1;
}

/* t or y: a tensor (used as is), a number (repeated n times) or a table of numbers,
 * as a new [len] tensor of dtype dt anchored on the stack. Integer dtypes require
 * integral values. */
static fokus_tensor *check_vector(lua_State *L, int arg, const char *name, int64_t n, fokus_dtype dt)
{
    fokus_tensor *t = lf_totensor(L, arg);
    if (t) return t;
    bool isint = !fokus_dtype_is_float(dt);
    int type = lua_type(L, arg);
    if (type != LUA_TNUMBER && type != LUA_TTABLE)
        lf_argerror(L, arg, "forward: %s must be a number, a table of %s or a tensor, got %s", name,
                    isint ? "integers" : "numbers", luaL_typename(L, arg));
    int64_t len = type == LUA_TNUMBER ? n : (int64_t)luaL_len(L, arg);
    fokus_tensor tmp;
    fokus_error err;
    if (fokus_tensor_new(&tmp, dt, 1, &len, &err) != FOKUS_OK) lf_raise(L, &err);
    lf_pushtensor(L, &tmp);
    fokus_tensor *u = lf_totensor(L, -1);
    for (int64_t i = 0; i < len; i++) {
        if (type == LUA_TTABLE)
            lua_geti(L, arg, i + 1);
        else
            lua_pushvalue(L, arg);
        if (lua_type(L, -1) != LUA_TNUMBER)
            lf_argerror(L, arg, "forward: %s[%d] is %s, expected a number", name, (int)i + 1, luaL_typename(L, -1));
        if (isint) {
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok) lf_argerror(L, arg, "forward: %s[%d] = %s is not an integer label", name, (int)i + 1, lua_tostring(L, -1));
            ((int64_t *)u->data)[i] = v;
        } else {
            ((float *)u->data)[i] = (float)lua_tonumber(L, -1);
        }
        lua_pop(L, 1);
    }
    return u;
}

/* model:forward(x, t, y [, {trace = true, out = t}]) -> out [N, C_out, H, W] (opts.out:
 * written into and returned, any strides); with trace a table
 * {out =, x_tokens =, t_freq =, t_emb =, y_emb =, c =, blocks = {...}, final_tokens =}. */
static int m_forward(lua_State *L)
{
    static const char *const known[] = {"trace", "attention", "out", NULL};
    fokus_dit *m = check_dit(L, 1);
    lf_checkopts(L, 5, "forward", known);
    bool want_trace = lf_optbool(L, 5, "forward", "trace", 0);
    if (lua_istable(L, 5)) {
        int at = lua_getfield(L, 5, "attention");
        if (at != LUA_TNIL && !(at == LUA_TBOOLEAN && !lua_toboolean(L, -1)))
            luaL_error(L, "forward: option 'attention' needs text tokens; a DiT has none (it is class-conditional)");
        lua_pop(L, 1);
    }
    fokus_tensor *x = lf_checktensor(L, 2, "x");
    int64_t N = x->ndim == 4 ? x->shape[0] : 1;
    fokus_tensor *t = check_vector(L, 3, "t", N, FOKUS_F32);
    fokus_tensor *y = check_vector(L, 4, "y", N, FOKUS_I64);
    const fokus_dit_config *c = fokus_dit_get_config(m);
    fokus_error err;
    fokus_tensor out = {0}, res = {0};
    fokus_tensor *dst = lf_optout(L, 5, "forward");
    fokus_tensor *o = NULL;
    if (x->ndim == 4) {
        int64_t shape[4] = {N, c->out_channels, x->shape[2], x->shape[3]};
        if (dst) {
            /* opts.out: written directly when contiguous, else through a temporary */
            const fokus_tensor *in[3] = {x, t, y};
            if (fokus_out_begin(lf_ctx(L), "forward", dst, FOKUS_F32, 4, shape, in, 3, &res, &err) != FOKUS_OK)
                return lf_raise(L, &err);
            o = &res;
        } else if (fokus_tensor_empty_ctx(lf_ctx(L), &out, FOKUS_F32, 4, shape, &err) != FOKUS_OK) {
            return lf_raise(L, &err);
        }
    }
    if (!o) {
        lf_pushtensor(L, &out); /* owned by Lua before anything can raise */
        o = lf_totensor(L, -1);
    }
    fokus_tensor none = {0};
    fokus_dit_trace tr;
    fokus_status st = fokus_dit_forward(lf_ctx(L), m, x, t, y, o ? o : &none, want_trace ? &tr : NULL, &err);
    if (dst && x->ndim == 4) {
        if (st == FOKUS_OK) fokus_out_finish(dst, &res, NULL);
        else fokus_tensor_release(&res);
        if (st == FOKUS_OK) lf_pushout(L, 5);
    }
    if (st != FOKUS_OK) return lf_raise(L, &err);
    if (!want_trace) return 1;
    lua_createtable(L, 0, 8);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "out");
    struct {
        const char *key;
        fokus_tensor *t;
    } parts[] = {{"x_tokens", &tr.x_tokens}, {"t_freq", &tr.t_freq}, {"t_emb", &tr.t_emb},
                 {"y_emb", &tr.y_emb},       {"c", &tr.c},           {"final_tokens", &tr.final_tokens}};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        lf_pushtensor(L, parts[i].t);
        lua_setfield(L, -2, parts[i].key);
    }
    lua_createtable(L, tr.n_blocks, 0);
    for (int i = 0; i < tr.n_blocks; i++) {
        lf_pushtensor(L, &tr.blocks[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "blocks");
    fokus_dit_trace_free(&tr);
    return 1;
}

static int m_config(lua_State *L)
{
    fokus_dit *m = check_dit(L, 1);
    const fokus_dit_config *c = fokus_dit_get_config(m);
    lua_createtable(L, 0, 18);
    lua_pushstring(L, "dit");
    lua_setfield(L, -2, "family");
    lua_pushstring(L, fokus_dit_prefix(m));
    lua_setfield(L, -2, "prefix");
    static const char *const keys[] = {"input_size", "in_channels", "out_channels", "patch_size", "hidden_size", "depth",
                                       "num_heads", "mlp_hidden_size", "num_classes", "frequency_embedding_size"};
    int64_t vals[] = {c->input_size, c->in_channels, c->out_channels, c->patch_size, c->hidden_size,
                      c->depth, c->num_heads, c->mlp_hidden, c->num_classes, c->freq_dim};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        lua_pushinteger(L, vals[i]);
        lua_setfield(L, -2, keys[i]);
    }
    lua_pushnumber(L, (lua_Number)c->mlp_hidden / (lua_Number)c->hidden_size);
    lua_setfield(L, -2, "mlp_ratio");
    lua_pushboolean(L, c->learn_sigma);
    lua_setfield(L, -2, "learn_sigma");
    lua_pushboolean(L, c->null_class);
    lua_setfield(L, -2, "null_class");
    lua_pushnumber(L, c->max_period);
    lua_setfield(L, -2, "max_period");
    lua_pushnumber(L, c->eps);
    lua_setfield(L, -2, "norm_eps");
    return 1;
}

static int m_close(lua_State *L)
{
    lf_dit *u = luaL_checkudata(L, 1, LF_DIT);
    fokus_dit_free(u->m);
    u->m = NULL;
    return 0;
}

static int m_tostring(lua_State *L)
{
    lf_dit *u = luaL_checkudata(L, 1, LF_DIT);
    if (!u->m) {
        lua_pushstring(L, "fokus.DiT(closed)");
        return 1;
    }
    const fokus_dit_config *c = fokus_dit_get_config(u->m);
    lua_pushfstring(L, "fokus.DiT(width %d, %d blocks, %d heads, patch %d, %d -> %d channels, %d classes)",
                    (int)c->hidden_size, (int)c->depth, (int)c->num_heads, (int)c->patch_size, (int)c->in_channels,
                    (int)c->out_channels, (int)c->num_classes);
    return 1;
}

void lf_open_dit(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"forward", m_forward}, {"config", m_config}, {"close", m_close}, {NULL, NULL},
    };
    static const luaL_Reg meta[] = {{"__gc", m_close}, {"__close", m_close}, {"__tostring", m_tostring}, {NULL, NULL}};
    lf_newclass(L, LF_DIT, meta, methods);
    static const luaL_Reg funcs[] = {{"dit", l_dit}, {"dit_tiny", l_dit_tiny}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
