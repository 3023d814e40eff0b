/* fokus.load / fokus.save: safetensors files. Failures of the file itself return
 * nil, "path: reason"; wrong arguments raise. */
#include <stdlib.h>
#include <string.h>

#include "lfokus.h"

static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) lf_checkopts(L, 2, "load", (const char *const[]){NULL});
    fokus_st_file f;
    fokus_error err;
    fokus_status st = fokus_st_load(path, &f, &err);
    if (st != FOKUS_OK) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, err.msg);
        return 2;
    }
    lua_createtable(L, 0, (int)f.n_entries);
    for (size_t i = 0; i < f.n_entries; i++) {
        lf_pushtensor(L, &f.entries[i].tensor); /* takes the reference */
        lua_setfield(L, -2, f.entries[i].name);
    }
    lua_createtable(L, 0, (int)f.n_meta);
    for (size_t i = 0; i < f.n_meta; i++) {
        lua_pushstring(L, f.meta[i].value);
        lua_setfield(L, -2, f.meta[i].key);
    }
    fokus_st_free(&f);
    return 2;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int l_save(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    size_t n = 0, nm = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return lf_argerror(L, 2, "save: tensor names must be strings, got %s", luaL_typename(L, -2));
        if (!lf_totensor(L, -1))
            return lf_argerror(L, 2, "save: '%s' is %s, expected a fokus.Tensor", lua_tostring(L, -2),
                               luaL_typename(L, -1));
        lua_pop(L, 1);
        n++;
    }
    if (lua_istable(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                return lf_argerror(L, 3, "save: metadata must map strings to strings");
            lua_pop(L, 1);
            nm++;
        }
    }
    /* names sorted, so the same table always gives the same file; the strings stay
     * anchored in the argument tables while we write */
    const char **names = lua_newuserdatauv(L, (n + 1) * sizeof *names, 0);
    fokus_tensor *ts = lua_newuserdatauv(L, (n + 1) * sizeof *ts, 0);
    const char **mk = lua_newuserdatauv(L, (nm + 1) * sizeof *mk, 0);
    const char **mv = lua_newuserdatauv(L, (nm + 1) * sizeof *mv, 0);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pop(L, 1);
        names[i++] = lua_tostring(L, -1);
    }
    qsort(names, n, sizeof *names, cmp_str);
    for (i = 0; i < n; i++) {
        lua_getfield(L, 2, names[i]);
        ts[i] = *lf_totensor(L, -1);
        lua_pop(L, 1);
    }
    i = 0;
    if (lua_istable(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            mv[i] = lua_tostring(L, -1);
            lua_pop(L, 1);
            mk[i++] = lua_tostring(L, -1);
        }
    }
    fokus_error err;
    fokus_status st = fokus_st_save(path, names, ts, n, mk, mv, nm, &err);
    if (st != FOKUS_OK) {
        if (st == FOKUS_EINVAL) return luaL_error(L, "save: %s", err.msg);
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, err.msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

void lf_open_io(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"load", l_load}, {"save", l_save}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
