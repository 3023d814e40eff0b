/* fokus.attend(q, k, v [, opts]) -> out [, lse] [, probs]; opts.out is written and returned */
#include <string.h>

#include "lfokus.h"

static int l_attend(lua_State *L)
{
    static const char *const known[] = {"scale", "causal", "bias", "mask", "lse", "probs", "out",
                                        "score_mod", "mask_mod", "block_mask", NULL};
    fokus_tensor *q = lf_checktensor(L, 1, "q");
    fokus_tensor *k = lf_checktensor(L, 2, "k");
    fokus_tensor *v = lf_checktensor(L, 3, "v");
    lf_checkopts(L, 4, "attend", known);
    fokus_attend_opts o;
    memset(&o, 0, sizeof o);
    o.scale = lf_optnumber(L, 4, "attend", "scale", 0);
    if (lua_istable(L, 4) && lua_getfield(L, 4, "scale") != LUA_TNIL) {
        lua_pop(L, 1);
        if (!(o.scale > 0) && !(o.scale < 0))
        {
            char b[LC_NUMBUF];
            luaL_error(L, "attend: option 'scale' must be a non-zero finite number, got %s", lc_fmtnum(b, o.scale));
        }
    } else if (lua_istable(L, 4)) {
        lua_pop(L, 1);
    }
    int t = lua_istable(L, 4) ? lua_getfield(L, 4, "causal") : LUA_TNIL;
    if (t == LUA_TBOOLEAN) {
        o.causal = lua_toboolean(L, -1) ? FOKUS_CAUSAL_TOP_LEFT : FOKUS_CAUSAL_NONE;
    } else if (t == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        if (strcmp(s, "top_left") == 0)
            o.causal = FOKUS_CAUSAL_TOP_LEFT;
        else if (strcmp(s, "bottom_right") == 0)
            o.causal = FOKUS_CAUSAL_BOTTOM_RIGHT;
        else
            luaL_error(L, "attend: option 'causal' must be true, false, 'top_left' or 'bottom_right', got '%s'", s);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "attend: option 'causal' must be a boolean or a string, got %s", luaL_typename(L, -1));
    }
    if (lua_istable(L, 4)) lua_pop(L, 1);
    o.bias = lf_opttensor(L, 4, "attend", "bias");
    o.mask = lf_opttensor(L, 4, "attend", "mask");
    o.want_lse = lf_optbool(L, 4, "attend", "lse", 0);
    o.want_probs = lf_optbool(L, 4, "attend", "probs", 0);
    o.score_mod = lf_optmod(L, 4, "attend", "score_mod");
    o.mask_mod = lf_optmod(L, 4, "attend", "mask_mod");
    o.block_mask = lf_optblockmask(L, 4, "attend", "block_mask");
    if (o.score_mod && o.score_mod->kind != FOKUS_MOD_KIND_SCORE)
        luaL_error(L, "attend: option 'score_mod' is a mask_mod (pass it as mask_mod)");
    if (o.mask_mod && o.mask_mod->kind != FOKUS_MOD_KIND_MASK)
        luaL_error(L, "attend: option 'mask_mod' is a score_mod (pass it as score_mod)");
    if (o.mask_mod && !o.block_mask && (q->ndim == 3 || q->ndim == 4) && k->ndim == q->ndim) {
        /* block sparsity without asking: the Mod caches the block mask of this shape */
        const int r = q->ndim;
        o.block_mask = lf_mod_blockmask(L, o.mask_mod, r == 4 ? q->shape[0] : 1, q->shape[r - 3], q->shape[r - 2],
                                        k->shape[r - 2], "attend");
    }

    fokus_tensor *dst = lf_optout(L, 4, "attend");

    fokus_tensor out = {0}, lse = {0}, probs = {0};
    fokus_error err;
    fokus_status st = dst ? fokus_attend_into(lf_ctx(L), q, k, v, &o, dst, o.want_lse ? &lse : NULL,
                                              o.want_probs ? &probs : NULL, &err)
                          : fokus_attend(lf_ctx(L), q, k, v, &o, &out, o.want_lse ? &lse : NULL,
                                         o.want_probs ? &probs : NULL, &err);
    if (st != FOKUS_OK) return lf_raise(L, &err);
    int n = 1;
    if (dst)
        lf_pushout(L, 4);
    else
        lf_pushtensor(L, &out);
    if (o.want_lse) {
        lf_pushtensor(L, &lse);
        n++;
    }
    if (o.want_probs) {
        lf_pushtensor(L, &probs);
        n++;
    }
    return n;
}

void lf_open_attend(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"attend", l_attend}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
