/* fokus.MMDiT: the SD3 / SD3.5 joint-attention diffusion transformer.
 * fokus.mmdit(weights [, opts]), fokus.mmdit.tiny{...},
 * model:forward(x, t, context, y [, opts]), model:config(). */
#include <math.h>
#include <string.h>

#include "lfokus.h"

#define LF_MMDIT "fokus.MMDiT"

typedef struct lf_mmdit {
    fokus_mmdit *m;
} lf_mmdit;

static fokus_mmdit *check_mmdit(lua_State *L, int arg)
{
    lf_mmdit *u = luaL_checkudata(L, arg, LF_MMDIT);
    if (!u->m) luaL_argerror(L, arg, "model is closed");
    return u->m;
}

/* Settings of the config table that the shapes decide in core and the binding checks
 * against the built model. */
typedef struct extra_config {
    double mlp_ratio;            /* 0: not given */
    const char *qk_norm;         /* NULL: not given */
    int has_layers;              /* x_block_self_attn_layers given */
    int qkv_bias;                /* -1: not given */
} extra_config;

/* The keys of sd3.5's MMDiTX constructor (and of the oracles' config JSON); keys fokus
 * does not need are ignored, so a whole config table can be passed. */
static void read_config(lua_State *L, int opts, fokus_mmdit_config *c, extra_config *x)
{
    memset(c, 0, sizeof *c);
    memset(x, 0, sizeof *x);
    x->qkv_bias = -1;
    if (!lua_istable(L, opts)) return;
    if (lua_getfield(L, opts, "config") == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1)) luaL_error(L, "mmdit: option 'config' must be a table, got %s", luaL_typename(L, -1));
    int t = lua_gettop(L);
    static const struct {
        const char *key;
        size_t off;
    } ints[] = {
        {"in_channels", offsetof(fokus_mmdit_config, in_channels)},
        {"out_channels", offsetof(fokus_mmdit_config, out_channels)},
        {"patch_size", offsetof(fokus_mmdit_config, patch_size)},
        {"hidden_size", offsetof(fokus_mmdit_config, hidden_size)},
        {"depth", offsetof(fokus_mmdit_config, depth)},
        {"num_heads", offsetof(fokus_mmdit_config, num_heads)},
        {"context_dim", offsetof(fokus_mmdit_config, context_dim)},
        {"adm_in_channels", offsetof(fokus_mmdit_config, pooled_dim)},
        {"pooled_dim", offsetof(fokus_mmdit_config, pooled_dim)},
        {"pos_embed_max_size", offsetof(fokus_mmdit_config, pos_embed_max_size)},
        {"frequency_embedding_size", offsetof(fokus_mmdit_config, freq_dim)},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        lua_Integer v = lf_optinteger(L, t, "mmdit: config", ints[i].key, -1);
        if (v == -1) continue;
        if (v < 1) luaL_error(L, "mmdit: config %s must be positive, got %d", ints[i].key, (int)v);
        *(int64_t *)((char *)c + ints[i].off) = v;
    }
    c->max_period = lf_optnumber(L, t, "mmdit: config", "max_period", 0);
    c->eps = lf_optnumber(L, t, "mmdit: config", "norm_eps", 0);
    c->qk_eps = lf_optnumber(L, t, "mmdit: config", "qk_norm_eps", 0);
    x->mlp_ratio = lf_optnumber(L, t, "mmdit: config", "mlp_ratio", 0);
    if (c->max_period < 0 || c->eps < 0 || c->qk_eps < 0 || x->mlp_ratio < 0)
        luaL_error(L, "mmdit: config max_period, norm_eps, qk_norm_eps and mlp_ratio must be positive");
    x->qk_norm = lf_optstring(L, t, "mmdit: config", "qk_norm", NULL);
    if (lua_getfield(L, t, "qkv_bias") != LUA_TNIL) {
        if (!lua_isboolean(L, -1)) luaL_error(L, "mmdit: config qkv_bias must be a boolean, got %s", luaL_typename(L, -1));
        x->qkv_bias = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    /* x_block_self_attn_layers stays on the stack (checked once the model exists) */
    if (lua_getfield(L, t, "x_block_self_attn_layers") != LUA_TNIL) {
        if (!lua_istable(L, -1))
            luaL_error(L, "mmdit: config x_block_self_attn_layers must be a list of block numbers, got %s",
                       luaL_typename(L, -1));
        x->has_layers = 1;
    } else {
        lua_pop(L, 1);
    }
    lua_remove(L, t);
}

/* What the shapes decide and the config can only confirm. Returns an error message
 * (pushed) or NULL. The x_block_self_attn_layers list is at `layers` when given. */
static const char *check_extra(lua_State *L, const fokus_mmdit *m, const extra_config *x, int layers)
{
    const fokus_mmdit_config *c = fokus_mmdit_get_config(m);
    char nb[LC_NUMBUF];
    if (x->mlp_ratio > 0 && fabs(x->mlp_ratio * (double)c->hidden_size - (double)c->mlp_hidden) >= 1)
        return lua_pushfstring(L, "mmdit: config mlp_ratio = %s, but the weights have an MLP of %d for width %d",
                               lc_fmtnum(nb, x->mlp_ratio), (int)c->mlp_hidden, (int)c->hidden_size);
    const char *qk = fokus_qk_norm_name(c->qk_norm);
    if (x->qk_norm && strcmp(x->qk_norm, qk) != 0)
        return lua_pushfstring(L, "mmdit: config qk_norm = '%s', but the weights have %s", x->qk_norm,
                               c->qk_norm == FOKUS_QK_NONE ? "no ln_q/ln_k (none)"
                               : c->qk_norm == FOKUS_QK_RMS ? "RMS norms (rms)" : "LayerNorms (ln)");
    if (x->qkv_bias == 0) return lua_pushfstring(L, "mmdit: config qkv_bias = false, but the weights have qkv biases");
    if (x->has_layers) {
        int64_t n = (int64_t)luaL_len(L, layers), found = 0;
        for (int64_t i = 1; i <= n; i++) {
            lua_geti(L, layers, i);
            int ok;
            lua_Integer b = lua_tointegerx(L, -1, &ok);
            lua_pop(L, 1);
            if (!ok || !fokus_mmdit_has_attn2(m, b))
                return lua_pushfstring(L, "mmdit: config x_block_self_attn_layers[%d]: block %s has no x_block.attn2 "
                                          "in the weights (block numbers are 0-based, as in the names)",
                                       (int)i, ok ? lua_pushfstring(L, "%d", (int)b) : "?");
            found++;
        }
        if (found != c->n_attn2)
            return lua_pushfstring(L, "mmdit: config x_block_self_attn_layers lists %d blocks, the weights have attn2 in %d",
                                   (int)found, (int)c->n_attn2);
    }
    return NULL;
}

static void push_mmdit(lua_State *L, fokus_mmdit *m)
{
    lf_mmdit *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = m;
    luaL_setmetatable(L, LF_MMDIT);
}

/* fokus.mmdit(weights [, {prefix =, config =}]): weights is a path or a table from fokus.load. */
static int l_mmdit(lua_State *L)
{
    static const char *const known[] = {"prefix", "config", NULL};
    lua_settop(L, 2);
    lf_checkopts(L, 2, "mmdit", known);
    const char *prefix = lf_optstring(L, 2, "mmdit", "prefix", NULL);
    fokus_mmdit_config cfg;
    extra_config extra;
    read_config(L, 2, &cfg, &extra);
    int layers = extra.has_layers ? lua_gettop(L) : 0;
    fokus_st_file file;
    const fokus_st_entry *e;
    size_t n;
    if (lf_weights(L, 1, "mmdit", &file, &e, &n)) return 2;
    fokus_error err;
    fokus_mmdit *m = NULL;
    fokus_status st = fokus_mmdit_new(&m, e, n, prefix, &cfg, &err);
    fokus_st_free(&file); /* the model holds its own references */
    if (st != FOKUS_OK) return lf_weights_error(L, 1, st, &err);
    push_mmdit(L, m); /* owned by Lua from here */
    if (check_extra(L, m, &extra, layers)) return lua_error(L);
    return 1;
}

/* The 0-based block numbers of a list as a bit mask (blocks < 64). */
static uint64_t block_mask(lua_State *L, int arg, const char *fname, const char *key, int64_t depth)
{
    uint64_t mask = 0;
    if (lua_getfield(L, arg, key) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_istable(L, -1)) luaL_error(L, "%s: option '%s' must be a list of block numbers, got %s", fname, key, luaL_typename(L, -1));
    int64_t n = (int64_t)luaL_len(L, -1);
    for (int64_t i = 1; i <= n; i++) {
        lua_geti(L, -1, i);
        int ok;
        lua_Integer b = lua_tointegerx(L, -1, &ok);
        if (!ok || b < 0 || b >= depth || b >= 64)
            luaL_error(L, "%s: %s[%d] must be a block number in 0..%d (0-based, as in the names)", fname, key, (int)i,
                       (int)(depth < 64 ? depth - 1 : 63));
        mask |= (uint64_t)1 << b;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return mask;
}

/* fokus.mmdit.tiny{seed =, hidden_size =, heads =, depth =, in_channels =, patch_size =,
 * context_dim =, pooled_dim =, pos_embed_max_size =, qk_norm =, x_block_self_attn_layers =,
 * dtype =} */
static int l_mmdit_tiny(lua_State *L)
{
    static const char *const known[] = {"seed", "hidden_size", "heads", "depth", "in_channels", "patch_size",
                                        "context_dim", "pooled_dim", "pos_embed_max_size", "qk_norm",
                                        "x_block_self_attn_layers", "dtype", NULL};
    lf_checkopts(L, 1, "mmdit.tiny", known);
    lua_Integer seed = lf_optinteger(L, 1, "mmdit.tiny", "seed", 0);
    fokus_mmdit_tiny_opts o;
    memset(&o, 0, sizeof o);
    o.hidden_size = lf_optinteger(L, 1, "mmdit.tiny", "hidden_size", 64);
    o.depth = lf_optinteger(L, 1, "mmdit.tiny", "depth", 2);
    o.in_channels = lf_optinteger(L, 1, "mmdit.tiny", "in_channels", 4);
    o.patch_size = lf_optinteger(L, 1, "mmdit.tiny", "patch_size", 2);
    o.context_dim = lf_optinteger(L, 1, "mmdit.tiny", "context_dim", 32);
    o.pooled_dim = lf_optinteger(L, 1, "mmdit.tiny", "pooled_dim", 48);
    o.pos_embed_max_size = lf_optinteger(L, 1, "mmdit.tiny", "pos_embed_max_size", 32);
    if (o.hidden_size < 1 || o.depth < 1 || o.in_channels < 1 || o.patch_size < 1 || o.context_dim < 1 ||
        o.pooled_dim < 1 || o.pos_embed_max_size < 1)
        luaL_error(L, "mmdit.tiny: sizes must be positive");
    /* 16-wide heads by default: 4 for the default width, as in the oracles */
    lua_Integer defh = o.hidden_size >= 16 && o.hidden_size % 16 == 0 ? o.hidden_size / 16 : 1;
    lua_Integer heads = lf_optinteger(L, 1, "mmdit.tiny", "heads", defh);
    if (heads < 1 || o.hidden_size % heads != 0)
        luaL_error(L, "mmdit.tiny: heads must divide hidden_size %d, got %d", (int)o.hidden_size, (int)heads);
    o.num_heads = heads;
    const char *qk = lf_optstring(L, 1, "mmdit.tiny", "qk_norm", "none");
    if (strcmp(qk, "none") == 0)
        o.qk_norm = FOKUS_QK_NONE;
    else if (strcmp(qk, "rms") == 0)
        o.qk_norm = FOKUS_QK_RMS;
    else if (strcmp(qk, "ln") == 0)
        o.qk_norm = FOKUS_QK_LN;
    else
        luaL_error(L, "mmdit.tiny: qk_norm must be 'none', 'rms' or 'ln', got '%s'", qk);
    const char *dt = lf_optstring(L, 1, "mmdit.tiny", "dtype", "f32");
    if (!fokus_dtype_parse(dt, &o.dtype) || !fokus_dtype_is_float(o.dtype))
        luaL_error(L, "mmdit.tiny: dtype must be 'f32', 'f16' or 'bf16', got '%s'", dt);
    if (lua_istable(L, 1)) o.attn2_mask = block_mask(L, 1, "mmdit.tiny", "x_block_self_attn_layers", o.depth);
    fokus_st_entry *e;
    size_t n;
    fokus_error err;
    if (fokus_mmdit_tiny_weights((uint64_t)seed, &o, &e, &n, &err) != FOKUS_OK) return lf_raise(L, &err);
    fokus_mmdit_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.num_heads = heads;
    fokus_mmdit *m;
    fokus_status st = fokus_mmdit_new(&m, e, n, "", &cfg, &err);
    fokus_st_entries_free(e, n);
    if (st != FOKUS_OK) return lf_raise(L, &err);
    push_mmdit(L, m);
    return 1;
}

/* t: a tensor (used as is), a number (repeated n times) or a table of numbers, as a new
 * f32 [len] tensor anchored on the stack. */
static fokus_tensor *check_timesteps(lua_State *L, int arg, int64_t n)
{
    fokus_tensor *t = lf_totensor(L, arg);
    if (t) return t;
    int type = lua_type(L, arg);
    if (type != LUA_TNUMBER && type != LUA_TTABLE)
        lf_argerror(L, arg, "forward: t must be a number, a table of numbers or a tensor (1000 * sigma), got %s",
                    luaL_typename(L, arg));
    int64_t len = type == LUA_TNUMBER ? n : (int64_t)luaL_len(L, arg);
    fokus_tensor tmp;
    fokus_error err;
    if (fokus_tensor_new(&tmp, FOKUS_F32, 1, &len, &err) != FOKUS_OK) lf_raise(L, &err);
    lf_pushtensor(L, &tmp);
    fokus_tensor *u = lf_totensor(L, -1);
    for (int64_t i = 0; i < len; i++) {
        if (type == LUA_TTABLE)
            lua_geti(L, arg, i + 1);
        else
            lua_pushvalue(L, arg);
        if (lua_type(L, -1) != LUA_TNUMBER)
            lf_argerror(L, arg, "forward: t[%d] is %s, expected a number", (int)i + 1, luaL_typename(L, -1));
        ((float *)u->data)[i] = (float)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    return u;
}

/* opts.attention: true (every block) or a list of 1-based block indices -> flags. */
static bool read_capture(lua_State *L, int opts, int64_t depth, uint8_t *flags)
{
    if (!lua_istable(L, opts)) return false;
    int ty = lua_getfield(L, opts, "attention");
    bool any = false;
    if (ty == LUA_TBOOLEAN) {
        any = lua_toboolean(L, -1);
        for (int64_t i = 0; i < depth; i++) flags[i] = any;
    } else if (ty == LUA_TTABLE) {
        int64_t n = (int64_t)luaL_len(L, -1);
        if (n < 1) luaL_error(L, "forward: option 'attention' lists no blocks (give block indices 1..%d, or true)", (int)depth);
        for (int64_t i = 1; i <= n; i++) {
            lua_geti(L, -1, i);
            int ok;
            lua_Integer b = lua_tointegerx(L, -1, &ok);
            if (!ok || b < 1 || b > depth)
                luaL_error(L, "forward: attention[%d] must be a block index in 1..%d, got %s", (int)i, (int)depth,
                           luaL_tolstring(L, -1, NULL));
            flags[b - 1] = 1;
            lua_pop(L, 1);
        }
        any = true;
    } else if (ty != LUA_TNIL) {
        luaL_error(L, "forward: option 'attention' must be true or a list of block indices, got %s", luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return any;
}

/* model:forward(x, t, context, y [, {attention = true | {blocks}, trace = true, out = t}])
 *   -> out [N, C_out, H, W] (opts.out: written into and returned, any strides); with attention {out =, attention = [N, Lc, H/p, W/p]};
 *   with trace also pos_embed, x_tokens, t_freq, t_emb, y_emb, c, context_tokens,
 *   blocks = {{x =, context =}, ...}, final_tokens. */
static int m_forward(lua_State *L)
{
    static const char *const known[] = {"attention", "trace", "out", NULL};
    fokus_mmdit *m = check_mmdit(L, 1);
    const fokus_mmdit_config *c = fokus_mmdit_get_config(m);
    lf_checkopts(L, 6, "forward", known);
    bool want_trace = lf_optbool(L, 6, "forward", "trace", 0);
    uint8_t *flags = lua_newuserdatauv(L, (size_t)c->depth, 0); /* collected with the call */
    memset(flags, 0, (size_t)c->depth);
    bool cap = read_capture(L, 6, c->depth, flags);
    fokus_tensor *x = lf_checktensor(L, 2, "x");
    int64_t N = x->ndim == 4 ? x->shape[0] : 1;
    fokus_tensor *t = check_timesteps(L, 3, N);
    fokus_tensor *ctxt = lf_checktensor(L, 4, "context");
    fokus_tensor *y = NULL;
    if (c->pooled_dim > 0 || !lua_isnoneornil(L, 5)) y = lf_checktensor(L, 5, "y");
    fokus_error err;
    fokus_tensor out = {0}, res = {0};
    fokus_tensor *dst = lf_optout(L, 6, "forward");
    fokus_tensor *o = NULL;
    if (x->ndim == 4) {
        int64_t shape[4] = {N, c->out_channels, x->shape[2], x->shape[3]};
        if (dst) {
            /* opts.out: written directly when contiguous, else through a temporary */
            const fokus_tensor *in[4] = {x, t, ctxt, y};
            if (fokus_out_begin(lf_ctx(L), "forward", dst, FOKUS_F32, 4, shape, in, 4, &res, &err) != FOKUS_OK)
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
    fokus_tensor none = {0}, map = {0};
    fokus_mmdit_trace tr;
    fokus_mmdit_opts mo = {cap ? flags : NULL, cap ? &map : NULL, want_trace ? &tr : NULL};
    fokus_status st = fokus_mmdit_forward(lf_ctx(L), m, x, t, ctxt, y, &mo, o ? o : &none, &err);
    if (dst && x->ndim == 4) {
        if (st == FOKUS_OK) fokus_out_finish(dst, &res, NULL);
        else fokus_tensor_release(&res);
        if (st == FOKUS_OK) lf_pushout(L, 6);
    }
    if (st != FOKUS_OK) return lf_raise(L, &err);
    int iout = lua_gettop(L);
    if (!cap && !want_trace) return 1;
    lua_createtable(L, 0, 12);
    lua_pushvalue(L, iout);
    lua_setfield(L, -2, "out");
    if (cap) {
        lf_pushtensor(L, &map);
        lua_setfield(L, -2, "attention");
    }
    if (!want_trace) return 1;
    struct {
        const char *key;
        fokus_tensor *t;
    } parts[] = {{"pos_embed", &tr.pos_embed}, {"x_tokens", &tr.x_tokens},         {"t_freq", &tr.t_freq},
                 {"t_emb", &tr.t_emb},         {"y_emb", &tr.y_emb},               {"c", &tr.c},
                 {"context_tokens", &tr.context_tokens}, {"final_tokens", &tr.final_tokens}};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        if (!parts[i].t->data) continue;
        lf_pushtensor(L, parts[i].t);
        lua_setfield(L, -2, parts[i].key);
    }
    lua_createtable(L, tr.n_blocks, 0);
    for (int i = 0; i < tr.n_blocks; i++) {
        lua_createtable(L, 0, 2);
        lf_pushtensor(L, &tr.block_x[i]);
        lua_setfield(L, -2, "x");
        if (tr.block_context[i].data) {
            lf_pushtensor(L, &tr.block_context[i]);
            lua_setfield(L, -2, "context");
        }
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "blocks");
    fokus_mmdit_trace_free(&tr);
    return 1;
}

static int m_config(lua_State *L)
{
    fokus_mmdit *m = check_mmdit(L, 1);
    const fokus_mmdit_config *c = fokus_mmdit_get_config(m);
    lua_createtable(L, 0, 22);
    lua_pushstring(L, "mmdit");
    lua_setfield(L, -2, "family");
    lua_pushstring(L, fokus_mmdit_prefix(m));
    lua_setfield(L, -2, "prefix");
    static const char *const keys[] = {"in_channels", "out_channels", "patch_size", "hidden_size", "depth",
                                       "num_heads", "mlp_hidden_size", "context_dim", "pooled_dim", "adm_in_channels",
                                       "pos_embed_max_size", "frequency_embedding_size"};
    int64_t vals[] = {c->in_channels, c->out_channels, c->patch_size, c->hidden_size, c->depth, c->num_heads,
                      c->mlp_hidden, c->context_dim, c->pooled_dim, c->pooled_dim, c->pos_embed_max_size, c->freq_dim};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        lua_pushinteger(L, vals[i]);
        lua_setfield(L, -2, keys[i]);
    }
    lua_pushnumber(L, (lua_Number)c->mlp_hidden / (lua_Number)c->hidden_size);
    lua_setfield(L, -2, "mlp_ratio");
    lua_pushstring(L, fokus_qk_norm_name(c->qk_norm));
    lua_setfield(L, -2, "qk_norm");
    lua_createtable(L, (int)c->n_attn2, 0);
    for (int64_t i = 0, k = 0; i < c->depth; i++)
        if (fokus_mmdit_has_attn2(m, i)) {
            lua_pushinteger(L, i);
            lua_rawseti(L, -2, ++k);
        }
    lua_setfield(L, -2, "x_block_self_attn_layers");
    lua_pushnumber(L, c->max_period);
    lua_setfield(L, -2, "max_period");
    lua_pushnumber(L, c->eps);
    lua_setfield(L, -2, "norm_eps");
    lua_pushnumber(L, c->qk_eps);
    lua_setfield(L, -2, "qk_norm_eps");
    return 1;
}

static int m_close(lua_State *L)
{
    lf_mmdit *u = luaL_checkudata(L, 1, LF_MMDIT);
    fokus_mmdit_free(u->m);
    u->m = NULL;
    return 0;
}

static int m_tostring(lua_State *L)
{
    lf_mmdit *u = luaL_checkudata(L, 1, LF_MMDIT);
    if (!u->m) {
        lua_pushstring(L, "fokus.MMDiT(closed)");
        return 1;
    }
    const fokus_mmdit_config *c = fokus_mmdit_get_config(u->m);
    lua_pushfstring(L, "fokus.MMDiT(width %d, %d blocks, %d heads, patch %d, %d -> %d channels, context %d, pooled %d, "
                       "qk-norm %s, attn2 in %d blocks)",
                    (int)c->hidden_size, (int)c->depth, (int)c->num_heads, (int)c->patch_size, (int)c->in_channels,
                    (int)c->out_channels, (int)c->context_dim, (int)c->pooled_dim, fokus_qk_norm_name(c->qk_norm),
                    (int)c->n_attn2);
    return 1;
}

void lf_open_mmdit(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"forward", m_forward}, {"config", m_config}, {"close", m_close}, {NULL, NULL},
    };
    static const luaL_Reg meta[] = {{"__gc", m_close}, {"__close", m_close}, {"__tostring", m_tostring}, {NULL, NULL}};
    lf_newclass(L, LF_MMDIT, meta, methods);
    static const luaL_Reg funcs[] = {{"mmdit", l_mmdit}, {"mmdit_tiny", l_mmdit_tiny}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
