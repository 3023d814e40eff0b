/* fokus.Tokenizer: CLIP byte-level BPE. fokus.tokenizer([path]), tok:encode(text [, opts]),
 * tok:decode(ids), tok:pieces(text). */
#include <stdlib.h>
#include <string.h>

#include "lfokus.h"

typedef struct lf_tok {
    fokus_bpe *tok;
} lf_tok;

fokus_bpe *lf_checktokenizer(lua_State *L, int arg)
{
    lf_tok *u = luaL_testudata(L, arg, LF_TOKENIZER);
    if (!u) lf_argerror(L, arg, "tok: expected a fokus.Tokenizer, got %s", luaL_typename(L, arg));
    if (!u->tok) lf_argerror(L, arg, "tok: tokenizer is closed");
    return u->tok;
}

static int l_tokenizer(lua_State *L)
{
    const char *path = luaL_optstring(L, 1, NULL);
    fokus_bpe *tok;
    fokus_error err;
    fokus_status st = fokus_bpe_load(&tok, path, &err);
    if (st == FOKUS_EINVAL && !path)
        return luaL_error(L, "tokenizer: no vocabulary given: pass a path (bpe_simple_vocab_16e6.txt.gz, vocab.json, "
                             "merges.txt, tokenizer.json or their folder) or set FOKUS_CLIP_VOCAB");
    if (st != FOKUS_OK) return lf_status(L, st == FOKUS_EINVAL ? FOKUS_EIO : st, &err, NULL);
    lf_tok *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->tok = tok;
    luaL_setmetatable(L, LF_TOKENIZER);
    return 1;
}

/* Encodes the string at `arg` into `p` or raises. */
static void encode(lua_State *L, fokus_bpe *tok, int arg, fokus_bpe_pieces *p)
{
    size_t len;
    const char *text = luaL_checklstring(L, arg, &len);
    fokus_error err;
    if (fokus_bpe_encode(tok, text, len, p, &err) != FOKUS_OK) {
        fokus_bpe_pieces_free(p);
        lf_raise(L, &err);
    }
}

static int m_encode(lua_State *L)
{
    static const char *const known[] = {"length", "pad", NULL};
    fokus_bpe *tok = lf_checktokenizer(L, 1);
    luaL_checkstring(L, 2);
    lf_checkopts(L, 3, "encode", known);
    lua_Integer length = lf_optinteger(L, 3, "encode", "length", 0);
    lua_Integer pad = lf_optinteger(L, 3, "encode", "pad", fokus_bpe_eos(tok));
    bool framed = lua_istable(L, 3) && (lua_getfield(L, 3, "length"), !lua_isnil(L, -1));
    if (lua_istable(L, 3)) lua_pop(L, 1);
    if (framed && (length < 2 || length > 1 << 24))
        luaL_error(L, "encode: option 'length' must be in 2..16777216 (BOS and EOS need two slots), got %d", (int)length);
    fokus_bpe_pieces p = {0};
    encode(L, tok, 2, &p);
    if (!framed) {
        lua_createtable(L, (int)p.n, 0);
        for (size_t i = 0; i < p.n; i++) {
            lua_pushinteger(L, p.items[i].id);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    } else {
        size_t keep = p.n < (size_t)length - 2 ? p.n : (size_t)length - 2;
        lua_createtable(L, (int)length, 0);
        lua_pushinteger(L, fokus_bpe_bos(tok));
        lua_rawseti(L, -2, 1);
        for (size_t i = 0; i < keep; i++) {
            lua_pushinteger(L, p.items[i].id);
            lua_rawseti(L, -2, (lua_Integer)i + 2);
        }
        lua_pushinteger(L, fokus_bpe_eos(tok));
        lua_rawseti(L, -2, (lua_Integer)keep + 2);
        for (lua_Integer i = (lua_Integer)keep + 3; i <= length; i++) {
            lua_pushinteger(L, pad);
            lua_rawseti(L, -2, i);
        }
    }
    fokus_bpe_pieces_free(&p);
    return 1;
}

static int m_pieces(lua_State *L)
{
    fokus_bpe *tok = lf_checktokenizer(L, 1);
    fokus_bpe_pieces p = {0};
    encode(L, tok, 2, &p);
    lua_createtable(L, (int)p.n, 0);
    for (size_t i = 0; i < p.n; i++) {
        lua_createtable(L, 0, 4);
        lua_pushinteger(L, p.items[i].id);
        lua_setfield(L, -2, "id");
        lua_pushinteger(L, (lua_Integer)p.items[i].begin + 1);
        lua_setfield(L, -2, "first");
        lua_pushinteger(L, (lua_Integer)p.items[i].end);
        lua_setfield(L, -2, "last");
        const char *t = fokus_bpe_token(tok, p.items[i].id);
        if (t) {
            lua_pushstring(L, t);
            lua_setfield(L, -2, "token");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    fokus_bpe_pieces_free(&p);
    return 1;
}

static int m_decode(lua_State *L)
{
    fokus_bpe *tok = lf_checktokenizer(L, 1);
    int32_t *ids;
    size_t n;
    fokus_tensor *t = lf_totensor(L, 2);
    if (t) {
        n = (size_t)fokus_tensor_numel(t);
        ids = lua_newuserdatauv(L, (n + 1) * sizeof *ids, 0);
        for (size_t i = 0; i < n; i++) {
            int64_t v = fokus_tensor_get_i64(t, (int64_t)i);
            ids[i] = (v < INT32_MIN || v > INT32_MAX) ? -1 : (int32_t)v;
        }
    } else {
        luaL_checktype(L, 2, LUA_TTABLE);
        n = (size_t)luaL_len(L, 2);
        ids = lua_newuserdatauv(L, (n + 1) * sizeof *ids, 0);
        for (size_t i = 0; i < n; i++) {
            int isint;
            lua_geti(L, 2, (lua_Integer)i + 1);
            lua_Integer v = lua_tointegerx(L, -1, &isint);
            if (!isint) lf_argerror(L, 2, "decode: ids[%d] is not an integer", (int)i + 1);
            ids[i] = (v < INT32_MIN || v > INT32_MAX) ? -1 : (int32_t)v;
            lua_pop(L, 1);
        }
    }
    char *text;
    size_t len;
    fokus_error err;
    if (fokus_bpe_decode(tok, ids, n, &text, &len, &err) != FOKUS_OK) return luaL_error(L, "decode: %s", err.msg);
    lua_pushlstring(L, text, len);
    free(text);
    return 1;
}

static int m_token(lua_State *L)
{
    fokus_bpe *tok = lf_checktokenizer(L, 1);
    const char *t = fokus_bpe_token(tok, (int32_t)luaL_checkinteger(L, 2));
    if (!t) return lf_argerror(L, 2, "token: %d is not a token id", (int)lua_tointeger(L, 2));
    lua_pushstring(L, t);
    return 1;
}

static int m_info(lua_State *L)
{
    fokus_bpe *tok = lf_checktokenizer(L, 1);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, fokus_bpe_vocab_size(tok));
    lua_setfield(L, -2, "vocab_size");
    lua_pushinteger(L, fokus_bpe_bos(tok));
    lua_setfield(L, -2, "bos");
    lua_pushinteger(L, fokus_bpe_eos(tok));
    lua_setfield(L, -2, "eos");
    return 1;
}

static int m_close(lua_State *L)
{
    lf_tok *u = luaL_checkudata(L, 1, LF_TOKENIZER);
    fokus_bpe_free(u->tok);
    u->tok = NULL;
    return 0;
}

static int m_tostring(lua_State *L)
{
    lf_tok *u = luaL_checkudata(L, 1, LF_TOKENIZER);
    if (u->tok)
        lua_pushfstring(L, "fokus.Tokenizer(%d tokens)", (int)fokus_bpe_vocab_size(u->tok));
    else
        lua_pushstring(L, "fokus.Tokenizer(closed)");
    return 1;
}

void lf_open_tokenizer(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"encode", m_encode}, {"decode", m_decode}, {"pieces", m_pieces}, {"token", m_token},
        {"info", m_info},     {"close", m_close},   {NULL, NULL},
    };
    static const luaL_Reg meta[] = {{"__gc", m_close}, {"__close", m_close}, {"__tostring", m_tostring}, {NULL, NULL}};
    lf_newclass(L, LF_TOKENIZER, meta, methods);
    static const luaL_Reg funcs[] = {{"tokenizer", l_tokenizer}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
