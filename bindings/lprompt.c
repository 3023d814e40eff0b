/* Prompt syntax and weighting: fokus.parse_weights, fokus.tokenize, fokus.prompt_schedule,
 * fokus.prompt_and, fokus.weight. */
#include <stdlib.h>
#include <string.h>

#include "lfokus.h"

static fokus_syntax check_syntax(lua_State *L, int opts, const char *fname)
{
    const char *s = lf_optstring(L, opts, fname, "syntax", "a1111");
    if (strcmp(s, "a1111") == 0) return FOKUS_SYNTAX_A1111;
    if (strcmp(s, "comfy") == 0) return FOKUS_SYNTAX_COMFY;
    luaL_error(L, "%s: option 'syntax' must be 'a1111' or 'comfy', got '%s'", fname, s);
    return FOKUS_SYNTAX_A1111;
}

/* A1111's own errors (float() of "1.2.3") come back as FOKUS_EINVAL: they are about
 * the prompt, so they raise like any bad argument, with the parser's message. */
static int l_parse_weights(lua_State *L)
{
    static const char *const known[] = {"syntax", NULL};
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    lf_checkopts(L, 2, "parse_weights", known);
    fokus_syntax syn = check_syntax(L, 2, "parse_weights");
    fokus_segments seg = {0};
    fokus_error err;
    if (fokus_prompt_parse(text, len, syn, &seg, &err) != FOKUS_OK) {
        fokus_segments_free(&seg);
        return luaL_error(L, "parse_weights: %s", err.msg);
    }
    lua_createtable(L, (int)seg.n, 0);
    for (size_t i = 0; i < seg.n; i++) {
        lua_createtable(L, 2, 0);
        lua_pushlstring(L, seg.items[i].text, seg.items[i].len);
        lua_rawseti(L, -2, 1);
        lua_pushnumber(L, seg.items[i].weight);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    fokus_segments_free(&seg);
    return 1;
}

static int l_tokenize(lua_State *L)
{
    static const char *const known[] = {"syntax", NULL};
    fokus_bpe *tok = lf_checktokenizer(L, 1);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    lf_checkopts(L, 3, "tokenize", known);
    fokus_syntax syn = check_syntax(L, 3, "tokenize");
    fokus_chunks ch = {0};
    fokus_error err;
    if (fokus_prompt_chunks(tok, text, len, syn, &ch, &err) != FOKUS_OK) {
        fokus_chunks_free(&ch);
        return luaL_error(L, "tokenize: %s", err.msg);
    }
    lua_createtable(L, (int)ch.n, 0);
    for (size_t c = 0; c < ch.n; c++) {
        lua_createtable(L, 0, 2);
        lua_createtable(L, 77, 0);
        for (int i = 0; i < 77; i++) {
            lua_pushinteger(L, ch.items[c].ids[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "ids");
        lua_createtable(L, 77, 0);
        for (int i = 0; i < 77; i++) {
            lua_pushnumber(L, ch.items[c].weights[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "weights");
        lua_rawseti(L, -2, (lua_Integer)c + 1);
    }
    fokus_chunks_free(&ch);
    return 1;
}

static int l_prompt_schedule(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    lua_Integer steps = luaL_checkinteger(L, 2);
    if (steps < 1 || steps > 1000000) return lf_argerror(L, 2, "steps: expected 1..1000000, got %d", (int)steps);
    fokus_schedule s = {0};
    fokus_error err;
    if (fokus_prompt_schedule(text, len, (int)steps, &s, &err) != FOKUS_OK) {
        fokus_schedule_free(&s);
        return luaL_error(L, "prompt_schedule: %s", err.msg);
    }
    lua_createtable(L, (int)s.n, 0);
    for (size_t i = 0; i < s.n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, s.items[i].until_step);
        lua_setfield(L, -2, "steps");
        lua_pushlstring(L, s.items[i].prompt, s.items[i].len);
        lua_setfield(L, -2, "prompt");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    fokus_schedule_free(&s);
    return 1;
}

static int l_prompt_and(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    fokus_segments seg = {0};
    fokus_error err;
    if (fokus_prompt_and(text, len, &seg, &err) != FOKUS_OK) {
        fokus_segments_free(&seg);
        return luaL_error(L, "prompt_and: %s", err.msg);
    }
    lua_createtable(L, (int)seg.n, 0);
    for (size_t i = 0; i < seg.n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushlstring(L, seg.items[i].text, seg.items[i].len);
        lua_setfield(L, -2, "prompt");
        lua_pushnumber(L, seg.items[i].weight);
        lua_setfield(L, -2, "weight");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    fokus_segments_free(&seg);
    return 1;
}

/* Per-token weights from: the chunks of fokus.tokenize, a flat array of numbers, or a
 * float tensor. Returns a userdata-backed array left on the stack. */
static double *check_weights(lua_State *L, int arg, int64_t *n)
{
    fokus_tensor *t = lf_totensor(L, arg);
    if (t) {
        *n = fokus_tensor_numel(t);
        double *w = lua_newuserdatauv(L, (size_t)(*n + 1) * sizeof *w, 0);
        for (int64_t i = 0; i < *n; i++) w[i] = fokus_tensor_get(t, i);
        return w;
    }
    if (!lua_istable(L, arg))
        lf_argerror(L, arg, "weights: expected the chunks of fokus.tokenize, an array of numbers or a tensor, got %s",
                    luaL_typename(L, arg));
    lua_Integer len = luaL_len(L, arg);
    lua_geti(L, arg, 1);
    bool chunks = lua_istable(L, -1);
    lua_pop(L, 1);
    if (!chunks) {
        *n = len;
        double *w = lua_newuserdatauv(L, (size_t)(len + 1) * sizeof *w, 0);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_geti(L, arg, i);
            if (!lua_isnumber(L, -1)) lf_argerror(L, arg, "weights[%d] is %s, expected a number", (int)i, luaL_typename(L, -1));
            w[i - 1] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        return w;
    }
    *n = 0;
    for (lua_Integer c = 1; c <= len; c++) {
        lua_geti(L, arg, c);
        if (!lua_istable(L, -1) || lua_getfield(L, -1, "weights") != LUA_TTABLE)
            lf_argerror(L, arg, "weights: chunk %d has no 'weights' array", (int)c);
        *n += (int64_t)luaL_len(L, -1);
        lua_pop(L, 2);
    }
    double *w = lua_newuserdatauv(L, (size_t)(*n + 1) * sizeof *w, 0);
    int64_t k = 0;
    for (lua_Integer c = 1; c <= len; c++) {
        lua_geti(L, arg, c);
        lua_getfield(L, -1, "weights");
        lua_Integer m = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= m; i++) {
            lua_geti(L, -1, i);
            if (!lua_isnumber(L, -1)) lf_argerror(L, arg, "weights: chunk %d entry %d is not a number", (int)c, (int)i);
            w[k++] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
    }
    return w;
}

static int l_weight(lua_State *L)
{
    static const char *const known[] = {"mode", "empty", "out", NULL};
    fokus_tensor *hidden = lf_checktensor(L, 1, "hidden");
    lf_checkopts(L, 3, "weight", known);
    const char *ms = lf_optstring(L, 3, "weight", "mode", "a1111");
    fokus_weight_mode mode;
    if (!fokus_weight_mode_parse(ms, &mode))
        luaL_error(L, "weight: option 'mode' must be 'a1111', 'a1111_nonorm', 'comfy' or 'none', got '%s'", ms);
    fokus_tensor *empty = lf_opttensor(L, 3, "weight", "empty");
    int64_t n;
    double *w = check_weights(L, 2, &n);
    fokus_tensor out;
    fokus_error err;
    fokus_tensor *dst = lf_optout(L, 3, "weight");
    const fokus_tensor *ins[2] = {hidden, empty};
    if (dst && fokus_out_check("weight", dst, FOKUS_F32, hidden->ndim, hidden->shape, ins, 2, &err) != FOKUS_OK)
        return lf_raise(L, &err);
    if (fokus_weight_tokens(hidden, w, n, 77, mode, empty, &out, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (dst) {
        /* weighting is a single pass over a prompt's encoding: a copy costs nothing */
        fokus_status st = fokus_tensor_copy(dst, &out, &err);
        fokus_tensor_release(&out);
        if (st != FOKUS_OK) return lf_raise(L, &err);
        lf_pushout(L, 3);
        return 1;
    }
    lf_pushtensor(L, &out);
    return 1;
}

void lf_open_prompt(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"parse_weights", l_parse_weights},
        {"tokenize", l_tokenize},
        {"prompt_schedule", l_prompt_schedule},
        {"prompt_and", l_prompt_and},
        {"weight", l_weight},
        {NULL, NULL},
    };
    luaL_setfuncs(L, funcs, 0);
}
