/* fokus.matmul(a, b [, opts]) and fokus.linear(x, w [, b] [, opts]); opts.out. */
#include "lfokus.h"

static const char *const known[] = {"out", NULL};

static int l_matmul(lua_State *L)
{
    fokus_tensor *a = lf_checktensor(L, 1, "a"), *b = lf_checktensor(L, 2, "b");
    lf_checkopts(L, 3, "matmul", known);
    fokus_tensor *dst = lf_optout(L, 3, "matmul");
    fokus_error err;
    if (dst) {
        if (fokus_matmul_into(lf_ctx(L), a, b, dst, &err) != FOKUS_OK) return lf_raise(L, &err);
        lf_pushout(L, 3);
        return 1;
    }
    fokus_tensor out;
    if (fokus_matmul(lf_ctx(L), a, b, &out, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

/* The bias is optional, so a table in third place is the options. */
static int l_linear(lua_State *L)
{
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *w = lf_checktensor(L, 2, "w");
    int opts = 4;
    fokus_tensor *b = NULL;
    if (lua_istable(L, 3) && !lf_totensor(L, 3))
        opts = 3;
    else if (!lua_isnoneornil(L, 3))
        b = lf_checktensor(L, 3, "b");
    lf_checkopts(L, opts, "linear", known);
    fokus_tensor *dst = lf_optout(L, opts, "linear");
    fokus_error err;
    if (dst) {
        if (fokus_linear_into(lf_ctx(L), x, w, b, dst, &err) != FOKUS_OK) return lf_raise(L, &err);
        lf_pushout(L, opts);
        return 1;
    }
    fokus_tensor out;
    if (fokus_linear(lf_ctx(L), x, w, b, &out, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

void lf_open_matmul(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"matmul", l_matmul}, {"linear", l_linear}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
