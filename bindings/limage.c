/* fokus.heatmap(map [, opts]) -> u8 image [H, W, 3]; fokus.save_png(path, img). */
#include <math.h>
#include <string.h>

#include "lfokus.h"

/* Reads opts[key] (an array of strings) into a userdata-backed array on the stack. */
static const char **label_array(lua_State *L, int opts, const char *key, size_t *n)
{
    *n = 0;
    if (!lua_istable(L, opts) || lua_getfield(L, opts, key) == LUA_TNIL) {
        if (lua_istable(L, opts)) lua_pop(L, 1);
        return NULL;
    }
    if (!lua_istable(L, -1)) luaL_error(L, "heatmap: option '%s' must be a table of strings, got %s", key, luaL_typename(L, -1));
    int t = lua_gettop(L);
    size_t len = (size_t)luaL_len(L, t);
    const char **a = lua_newuserdatauv(L, (len + 1) * sizeof *a, 0); /* stays on the stack */
    for (size_t i = 0; i < len; i++) {
        lua_geti(L, t, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "heatmap: option '%s' entry %d must be a string, got %s", key, (int)i + 1, luaL_typename(L, -1));
        a[i] = lua_tostring(L, -1);
        lua_rawseti(L, t, (lua_Integer)i + 1); /* keep the converted string anchored */
    }
    *n = len;
    return a;
}

static int l_heatmap(lua_State *L)
{
    static const char *const known[] = {"cell", "min", "max", "colormap", "rows", "cols", NULL};
    fokus_tensor *m = lf_checktensor(L, 1, "map");
    lf_checkopts(L, 2, "heatmap", known);
    fokus_heatmap_opts o;
    memset(&o, 0, sizeof o);
    o.cell = (int)lf_optinteger(L, 2, "heatmap", "cell", 0);
    if (o.cell < 0 || o.cell > 64) luaL_error(L, "heatmap: option 'cell' must be in 1..64, got %d", o.cell);
    o.vmin = lf_optnumber(L, 2, "heatmap", "min", NAN);
    o.vmax = lf_optnumber(L, 2, "heatmap", "max", NAN);
    o.colormap = lf_optstring(L, 2, "heatmap", "colormap", "magma");
    o.row_labels = label_array(L, 2, "rows", &o.n_row_labels);
    o.col_labels = label_array(L, 2, "cols", &o.n_col_labels);
    fokus_tensor img;
    fokus_error err;
    if (fokus_heatmap(m, &o, &img, &err) != FOKUS_OK) return lf_raise(L, &err);
    lf_pushtensor(L, &img);
    return 1;
}

static int l_save_png(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    fokus_tensor *img = lf_checktensor(L, 2, "img");
    fokus_error err;
    fokus_status st = fokus_png_save(path, img, &err);
    if (st != FOKUS_OK) return lf_status(L, st, &err, path);
    lua_pushboolean(L, 1);
    return 1;
}

void lf_open_image(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"heatmap", l_heatmap}, {"save_png", l_save_png}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
