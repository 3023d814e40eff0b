/* fokus.matmul(a, b) and fokus.linear(x, w [, b]). */
#include "lfokus.h"

static int l_matmul(lua_State *L)
{
    fokus_tensor *a = lf_checktensor(L, 1, "a"), *b = lf_checktensor(L, 2, "b");
    fokus_tensor out;
    fokus_error err;
    if (fokus_matmul(lf_ctx(L), a, b, &out, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

static int l_linear(lua_State *L)
{
    fokus_tensor *x = lf_checktensor(L, 1, "x"), *w = lf_checktensor(L, 2, "w");
    fokus_tensor *b = lua_isnoneornil(L, 3) ? NULL : lf_checktensor(L, 3, "b");
    fokus_tensor out;
    fokus_error err;
    if (fokus_linear(lf_ctx(L), x, w, b, &out, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &out);
    return 1;
}

void lf_open_matmul(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"matmul", l_matmul}, {"linear", l_linear}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
