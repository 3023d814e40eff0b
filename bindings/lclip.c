/* fokus.CLIP: the CLIP text encoder. fokus.clip(weights [, opts]), fokus.clip.tiny{...},
 * model:forward(ids), model:encode(chunks [, opts]), model:config(). */
#include <stdlib.h>
#include <string.h>

#include "lfokus.h"

#define LF_CLIP "fokus.CLIP"

typedef struct lf_clip {
    fokus_clip *m;
} lf_clip;

static fokus_clip *check_clip(lua_State *L, int arg)
{
    lf_clip *u = luaL_checkudata(L, arg, LF_CLIP);
    if (!u->m) luaL_argerror(L, arg, "model is closed");
    return u->m;
}

/* HF CLIPTextConfig keys; keys fokus does not need are ignored (a config.json has many). */
static void read_config(lua_State *L, int opts, fokus_clip_config *c)
{
    memset(c, 0, sizeof *c);
    c->bos_id = c->eos_id = c->pad_id = -1;
    if (!lua_istable(L, opts)) return;
    if (lua_getfield(L, opts, "config") == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1)) luaL_error(L, "clip: option 'config' must be a table, got %s", luaL_typename(L, -1));
    int t = lua_gettop(L);
    static const struct {
        const char *key;
        size_t off;
    } ints[] = {
        {"vocab_size", offsetof(fokus_clip_config, vocab_size)},
        {"hidden_size", offsetof(fokus_clip_config, hidden_size)},
        {"num_attention_heads", offsetof(fokus_clip_config, num_heads)},
        {"num_hidden_layers", offsetof(fokus_clip_config, num_layers)},
        {"intermediate_size", offsetof(fokus_clip_config, intermediate_size)},
        {"max_position_embeddings", offsetof(fokus_clip_config, max_positions)},
        {"projection_dim", offsetof(fokus_clip_config, projection_dim)},
        {"bos_token_id", offsetof(fokus_clip_config, bos_id)},
        {"eos_token_id", offsetof(fokus_clip_config, eos_id)},
        {"pad_token_id", offsetof(fokus_clip_config, pad_id)},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        lua_Integer v = lf_optinteger(L, t, "clip: config", ints[i].key, -1);
        if (v < -1 || (v == -1 && i < 7)) continue;
        if (i < 7 && v < 1) luaL_error(L, "clip: config %s must be positive, got %d", ints[i].key, (int)v);
        *(int64_t *)((char *)c + ints[i].off) = v;
    }
    const char *act = lf_optstring(L, t, "clip: config", "hidden_act", NULL);
    if (act && !fokus_act_parse(act, &c->act))
        luaL_error(L, "clip: config hidden_act '%s' is not supported (quick_gelu, gelu, gelu_pytorch_tanh, silu)", act);
    c->layer_norm_eps = lf_optnumber(L, t, "clip: config", "layer_norm_eps", 0);
    if (c->layer_norm_eps < 0) luaL_error(L, "clip: config layer_norm_eps must be positive");
    lua_pop(L, 1);
}

static void push_clip(lua_State *L, fokus_clip *m)
{
    lf_clip *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = m;
    luaL_setmetatable(L, LF_CLIP);
}

/* fokus.clip(weights [, {prefix =, config =}]): weights is a path or a table from fokus.load. */
static int l_clip(lua_State *L)
{
    static const char *const known[] = {"prefix", "config", NULL};
    lf_checkopts(L, 2, "clip", known);
    const char *prefix = lf_optstring(L, 2, "clip", "prefix", NULL);
    fokus_clip_config cfg;
    read_config(L, 2, &cfg);
    fokus_st_file file;
    const fokus_st_entry *e;
    size_t n;
    if (lf_weights(L, 1, "clip", &file, &e, &n)) return 2;
    fokus_error err;
    fokus_clip *m = NULL;
    fokus_status st = fokus_clip_new(&m, e, n, prefix, &cfg, &err);
    fokus_st_free(&file); /* the model holds its own references */
    if (st != FOKUS_OK) return lf_weights_error(L, 1, st, &err);
    push_clip(L, m);
    return 1;
}

/* fokus.clip.tiny{seed =, width =, layers =, heads =} */
static int l_clip_tiny(lua_State *L)
{
    static const char *const known[] = {"seed", "width", "layers", "heads", NULL};
    lf_checkopts(L, 1, "clip.tiny", known);
    lua_Integer seed = lf_optinteger(L, 1, "clip.tiny", "seed", 0);
    lua_Integer width = lf_optinteger(L, 1, "clip.tiny", "width", 64);
    lua_Integer layers = lf_optinteger(L, 1, "clip.tiny", "layers", 2);
    lua_Integer heads = lf_optinteger(L, 1, "clip.tiny", "heads", width >= 64 ? width / 64 : 1);
    if (heads < 1 || width % heads != 0) luaL_error(L, "clip.tiny: heads must divide width %d, got %d", (int)width, (int)heads);
    fokus_st_entry *e;
    size_t n;
    fokus_error err;
    if (fokus_clip_tiny_weights((uint64_t)seed, width, layers, &e, &n, &err) != FOKUS_OK) return lf_raise(L, &err);
    fokus_clip_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bos_id = cfg.eos_id = cfg.pad_id = -1;
    cfg.num_heads = heads;
    fokus_clip *m;
    fokus_status st = fokus_clip_new(&m, e, n, "", &cfg, &err);
    fokus_st_entries_free(e, n);
    if (st != FOKUS_OK) return lf_raise(L, &err);
    push_clip(L, m);
    return 1;
}

/* ids: an integer tensor [B, N], a nested table {{...}, ...} or a flat table {...} (one row). */
static fokus_tensor *check_ids(lua_State *L, int arg, const char *fname, fokus_tensor *tmp)
{
    fokus_tensor *t = lf_totensor(L, arg);
    if (t) {
        if (t->ndim == 1) {
            int64_t shape[2] = {1, t->shape[0]};
            fokus_error err;
            if (fokus_tensor_reshape_ctx(lf_ctx(L), tmp, t, 2, shape, &err) != FOKUS_OK) lf_raise(L, &err);
            return tmp;
        }
        return t;
    }
    if (!lua_istable(L, arg))
        lf_argerror(L, arg, "%s: ids must be an integer tensor or a table of ids, got %s", fname, luaL_typename(L, arg));
    lua_geti(L, arg, 1);
    bool nested = lua_istable(L, -1);
    lua_pop(L, 1);
    int64_t rows = nested ? (int64_t)luaL_len(L, arg) : 1, cols = 0;
    if (nested) {
        lua_geti(L, arg, 1);
        cols = (int64_t)luaL_len(L, -1);
        lua_pop(L, 1);
    } else {
        cols = (int64_t)luaL_len(L, arg);
    }
    int64_t shape[2] = {rows, cols};
    fokus_error err;
    if (fokus_tensor_new_ctx(lf_ctx(L), tmp, FOKUS_I64, 2, shape, &err) != FOKUS_OK) lf_raise(L, &err);
    lf_pushtensor(L, tmp); /* owned by Lua while we fill it */
    fokus_tensor *u = lf_totensor(L, -1);
    int64_t *d = u->data;
    for (int64_t r = 0; r < rows; r++) {
        if (nested) {
            lua_geti(L, arg, r + 1);
            if (!lua_istable(L, -1) || (int64_t)luaL_len(L, -1) != cols)
                lf_argerror(L, arg, "%s: ids row %d must be a table of %d ids", fname, (int)r + 1, (int)cols);
        } else {
            lua_pushvalue(L, arg);
        }
        for (int64_t c = 0; c < cols; c++) {
            int isint;
            lua_geti(L, -1, c + 1);
            d[r * cols + c] = lua_tointegerx(L, -1, &isint);
            if (!isint) lf_argerror(L, arg, "%s: id [%d, %d] is not an integer", fname, (int)r + 1, (int)c + 1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    return u;
}

/* model:forward(ids [, {attention = layer, out = t}]): `attention` (1-based layer, or
 * true for the last) adds that layer's attention probabilities [B, H, N, N] as
 * `attention`; `out` (f32 [B, N, D], any strides) receives last_hidden_state, and is
 * the table's last_hidden_state. */
static int m_forward(lua_State *L)
{
    static const char *const known[] = {"attention", "out", NULL};
    fokus_clip *m = check_clip(L, 1);
    lf_checkopts(L, 3, "forward", known);
    fokus_clip_run_opts ro = {true, -1, lf_optout(L, 3, "forward")};
    if (lua_istable(L, 3)) {
        int t = lua_getfield(L, 3, "attention");
        int64_t layers = fokus_clip_get_config(m)->num_layers;
        if (t == LUA_TBOOLEAN)
            ro.attention_layer = lua_toboolean(L, -1) ? (int)layers - 1 : -1;
        else if (t == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 && lua_tointeger(L, -1) <= layers)
            ro.attention_layer = (int)lua_tointeger(L, -1) - 1;
        else if (t != LUA_TNIL)
            luaL_error(L, "forward: option 'attention' must be true or a layer in 1..%d", (int)layers);
        lua_pop(L, 1);
    }
    fokus_tensor tmp = {0};
    fokus_tensor *ids = check_ids(L, 2, "forward", &tmp);
    fokus_clip_output o;
    fokus_error err;
    fokus_status st = fokus_clip_forward(lf_ctx(L), m, ids, &ro, &o, &err);
    fokus_tensor_release(&tmp);
    if (st != FOKUS_OK) return lf_raise(L, &err);
    lua_createtable(L, 0, 5);
    if (ro.out)
        lua_getfield(L, 3, "out");
    else
        lf_pushtensor(L, &o.last_hidden_state);
    lua_setfield(L, -2, "last_hidden_state");
    lf_pushtensor(L, &o.pooled);
    lua_setfield(L, -2, "pooler_output");
    if (o.text_embeds.storage) {
        lf_pushtensor(L, &o.text_embeds);
        lua_setfield(L, -2, "text_embeds");
    }
    lua_createtable(L, o.n_hidden, 0);
    for (int i = 0; i < o.n_hidden; i++) {
        lf_pushtensor(L, &o.hidden_states[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "hidden_states");
    if (o.attention.storage) {
        lf_pushtensor(L, &o.attention);
        lua_setfield(L, -2, "attention");
    }
    fokus_clip_output_free(&o);
    return 1;
}

/* chunks: a table from fokus.tokenize ({ {ids = {...}, weights = {...}}, ... }), a table
 * of id arrays, or an integer tensor [C, N]. */
static fokus_tensor *check_chunks(lua_State *L, int arg, fokus_tensor *tmp)
{
    if (lf_totensor(L, arg) || !lua_istable(L, arg)) return check_ids(L, arg, "encode", tmp);
    lua_Integer n = luaL_len(L, arg);
    if (n < 1) lf_argerror(L, arg, "encode: chunks is empty");
    lua_createtable(L, (int)n, 0);
    int rows = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, arg, i);
        if (!lua_istable(L, -1))
            lf_argerror(L, arg, "encode: chunk %d must be a table with ids, got %s", (int)i, luaL_typename(L, -1));
        if (lua_getfield(L, -1, "ids") == LUA_TTABLE)
            lua_remove(L, -2); /* a chunk from fokus.tokenize */
        else
            lua_pop(L, 1); /* the chunk is the id array itself */
        lua_rawseti(L, rows, i);
    }
    fokus_tensor *t = check_ids(L, rows, "encode", tmp);
    return t;
}

static int m_encode(lua_State *L)
{
    static const char *const known[] = {"skip", "final_norm", "out", NULL};
    fokus_clip *m = check_clip(L, 1);
    lf_checkopts(L, 3, "encode", known);
    fokus_tensor *dst = lf_optout(L, 3, "encode");
    lua_Integer skip = lf_optinteger(L, 3, "encode", "skip", 1);
    int final_norm = lf_optbool(L, 3, "encode", "final_norm", 1);
    if (skip < 1 || skip > fokus_clip_get_config(m)->num_layers)
        luaL_error(L, "encode: option 'skip' must be in 1..%d, got %d", (int)fokus_clip_get_config(m)->num_layers, (int)skip);
    fokus_tensor tmp = {0};
    fokus_tensor *ids = check_chunks(L, 2, &tmp);
    fokus_tensor cond, pooled, proj;
    fokus_error err;
    fokus_status st = dst ? fokus_clip_encode_into(lf_ctx(L), m, ids, (int)skip, final_norm, dst, &pooled, &proj, &err)
                          : fokus_clip_encode(lf_ctx(L), m, ids, (int)skip, final_norm, &cond, &pooled, &proj, &err);
    fokus_tensor_release(&tmp);
    if (st != FOKUS_OK) return lf_raise(L, &err);
    if (dst)
        lf_pushout(L, 3);
    else
        lf_pushtensor(L, &cond);
    lf_pushtensor(L, &pooled);
    if (proj.storage) {
        lf_pushtensor(L, &proj);
        return 3;
    }
    return 2;
}

static int m_config(lua_State *L)
{
    fokus_clip *m = check_clip(L, 1);
    const fokus_clip_config *c = fokus_clip_get_config(m);
    lua_createtable(L, 0, 14);
    static const char *const keys[] = {"vocab_size", "hidden_size", "num_attention_heads", "num_hidden_layers",
                                       "intermediate_size", "max_position_embeddings", "projection_dim",
                                       "bos_token_id", "eos_token_id", "pad_token_id"};
    int64_t vals[] = {c->vocab_size, c->hidden_size, c->num_heads, c->num_layers, c->intermediate_size,
                      c->max_positions, c->projection_dim, c->bos_id, c->eos_id, c->pad_id};
    for (int i = 0; i < 10; i++) {
        lua_pushinteger(L, vals[i]);
        lua_setfield(L, -2, keys[i]);
    }
    lua_pushstring(L, fokus_act_name(c->act));
    lua_setfield(L, -2, "hidden_act");
    lua_pushnumber(L, c->layer_norm_eps);
    lua_setfield(L, -2, "layer_norm_eps");
    lua_pushstring(L, fokus_clip_get_naming(m) == FOKUS_CLIP_HF ? "hf" : "openclip");
    lua_setfield(L, -2, "naming");
    lua_pushstring(L, fokus_clip_prefix(m));
    lua_setfield(L, -2, "prefix");
    return 1;
}

static int m_close(lua_State *L)
{
    lf_clip *u = luaL_checkudata(L, 1, LF_CLIP);
    fokus_clip_free(u->m);
    u->m = NULL;
    return 0;
}

static int m_tostring(lua_State *L)
{
    lf_clip *u = luaL_checkudata(L, 1, LF_CLIP);
    if (!u->m) {
        lua_pushstring(L, "fokus.CLIP(closed)");
        return 1;
    }
    const fokus_clip_config *c = fokus_clip_get_config(u->m);
    lua_pushfstring(L, "fokus.CLIP(%s, width %d, %d layers, %d heads, %s)",
                    fokus_clip_get_naming(u->m) == FOKUS_CLIP_HF ? "hf" : "openclip", (int)c->hidden_size,
                    (int)c->num_layers, (int)c->num_heads, fokus_act_name(c->act));
    return 1;
}

void lf_open_clip(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"forward", m_forward}, {"encode", m_encode}, {"config", m_config}, {"close", m_close}, {NULL, NULL},
    };
    static const luaL_Reg meta[] = {{"__gc", m_close}, {"__close", m_close}, {"__tostring", m_tostring}, {NULL, NULL}};
    lf_newclass(L, LF_CLIP, meta, methods);
    static const luaL_Reg funcs[] = {{"clip", l_clip}, {"clip_tiny", l_clip_tiny}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
