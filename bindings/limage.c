/* Pictures: fokus.heatmap, fokus.overlay, fokus.contact_sheet, fokus.text, fokus.font,
 * fokus.save_png, fokus.load_png. Images are u8 tensors [H, W, 3] (or 1 / 4 channels).
 *
 * Fonts: the default font (DejaVu Sans, or the built-in one when it is missing) is
 * opened once per Lua state and kept in the registry; `font = false` asks for the
 * built-in font and `font = "path.ttf"` for another file (opened for that call). */
#include <math.h>
#include <string.h>

#include "lfokus.h"

#define LF_FONT "fokus.Font"

typedef struct lf_font {
    fokus_font *f;
} lf_font;

static int font_gc(lua_State *L)
{
    lf_font *u = luaL_checkudata(L, 1, LF_FONT);
    fokus_font_free(u->f);
    u->f = NULL;
    return 0;
}

/* Pushes a font userdata (owned by Lua before anything can raise), opened from path
 * (NULL: the default search; "" : the built-in font). */
static fokus_font *push_font(lua_State *L, const char *fname, const char *path)
{
    lf_font *u = lua_newuserdata(L, sizeof *u);
    u->f = NULL;
    luaL_setmetatable(L, LF_FONT);
    fokus_error err;
    fokus_status st = path && !*path ? fokus_font_builtin(&u->f, &err) : fokus_font_open(&u->f, path, &err);
    if (st != FOKUS_OK) luaL_error(L, "%s: font: %s", fname, err.msg);
    return u->f;
}

static fokus_font *default_font(lua_State *L, const char *fname, bool builtin)
{
    const char *key = builtin ? "fokus.font.builtin" : "fokus.font.default";
    if (lua_getfield(L, LUA_REGISTRYINDEX, key) == LUA_TUSERDATA) {
        fokus_font *f = ((lf_font *)lua_touserdata(L, -1))->f;
        lua_pop(L, 1);
        return f;
    }
    lua_pop(L, 1);
    fokus_font *f = push_font(L, fname, builtin ? "" : NULL);
    lua_setfield(L, LUA_REGISTRYINDEX, key);
    return f;
}

/* opts.font: nil (default), false (built-in) or a path (kept on the stack). */
static const fokus_font *opt_font(lua_State *L, int opts, const char *fname)
{
    int t = lua_istable(L, opts) ? lua_getfield(L, opts, "font") : LUA_TNIL;
    const fokus_font *f;
    if (t == LUA_TNIL || (t == LUA_TBOOLEAN && lua_toboolean(L, -1))) {
        f = default_font(L, fname, false);
    } else if (t == LUA_TBOOLEAN) {
        f = default_font(L, fname, true);
    } else if (t == LUA_TSTRING) {
        f = push_font(L, fname, lua_tostring(L, -1)); /* stays on the stack for the call */
        return f;
    } else {
        return (const fokus_font *)(intptr_t)luaL_error(L, "%s: option 'font' must be a path or false, got %s", fname,
                                                        luaL_typename(L, -1));
    }
    if (lua_istable(L, opts)) lua_pop(L, 1);
    return f;
}

/* opts[key]: an array of strings (numbers are converted) -> a C array anchored on the
 * stack (a userdata for the pointers and a table for converted strings). */
static const char **string_array(lua_State *L, int opts, const char *fname, const char *key, size_t *n)
{
    *n = 0;
    if (!lua_istable(L, opts)) return NULL;
    if (lua_getfield(L, opts, key) == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (!lua_istable(L, -1)) luaL_error(L, "%s: option '%s' must be a table of strings, got %s", fname, key, luaL_typename(L, -1));
    int t = lua_gettop(L);
    size_t len = (size_t)luaL_len(L, t);
    if (len > 65536) luaL_error(L, "%s: option '%s' has %d entries, expected at most 65536", fname, key, (int)len);
    const char **a = lua_newuserdata(L, (len + 1) * sizeof *a);
    lua_createtable(L, (int)len, 0); /* anchors strings converted from numbers */
    for (size_t i = 0; i < len; i++) {
        lua_geti(L, t, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "%s: option '%s' entry %d must be a string, got %s", fname, key, (int)i + 1, luaL_typename(L, -1));
        a[i] = lua_tostring(L, -1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    a[len] = NULL;
    *n = len;
    return a;
}

/* opts.colorbar: true or a caption string. */
static bool opt_colorbar(lua_State *L, int opts, const char *fname, const char **caption)
{
    *caption = NULL;
    int t = lua_istable(L, opts) ? lua_getfield(L, opts, "colorbar") : LUA_TNIL;
    bool on = false;
    if (t == LUA_TBOOLEAN) on = lua_toboolean(L, -1);
    else if (t == LUA_TSTRING) on = true, *caption = lua_tostring(L, -1);
    else if (t != LUA_TNIL) luaL_error(L, "%s: option 'colorbar' must be a boolean or a caption string, got %s", fname, luaL_typename(L, -1));
    if (lua_istable(L, opts)) lua_pop(L, 1);
    return on;
}

/* fokus.heatmap(map [, {cell, min, max, colormap, rows, cols, title, colorbar, font, out}]) */
static int l_heatmap(lua_State *L)
{
    static const char *const known[] = {"cell", "min", "max", "colormap", "rows", "cols", "title", "colorbar", "font", "out", NULL};
    fokus_tensor *m = lf_checktensor(L, 1, "map");
    lf_checkopts(L, 2, "heatmap", known);
    fokus_heatmap_opts o;
    memset(&o, 0, sizeof o);
    o.cell = (int)lf_optinteger(L, 2, "heatmap", "cell", 0);
    if (o.cell < 0 || o.cell > 64) luaL_error(L, "heatmap: option 'cell' must be in 1..64, got %d", o.cell);
    o.vmin = lf_optnumber(L, 2, "heatmap", "min", NAN);
    o.vmax = lf_optnumber(L, 2, "heatmap", "max", NAN);
    o.colormap = lf_optstring(L, 2, "heatmap", "colormap", "magma");
    o.title = lf_optstring(L, 2, "heatmap", "title", NULL);
    o.colorbar = opt_colorbar(L, 2, "heatmap", &o.colorbar_label);
    fokus_tensor *dst = lf_optout(L, 2, "heatmap");
    o.row_labels = string_array(L, 2, "heatmap", "rows", &o.n_row_labels);
    o.col_labels = string_array(L, 2, "heatmap", "cols", &o.n_col_labels);
    o.font = opt_font(L, 2, "heatmap");
    fokus_tensor img = {0};
    fokus_error err;
    if (fokus_heatmap(lf_ctx(L), m, &o, dst, &img, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (dst) {
        lf_pushout(L, 2);
        return 1;
    }
    lf_pushtensor(L, &img);
    return 1;
}

/* fokus.overlay(image, map [, {colormap, alpha, min, max, title, size, font, out}]) */
static int l_overlay(lua_State *L)
{
    static const char *const known[] = {"colormap", "alpha", "min", "max", "title", "size", "font", "out", NULL};
    fokus_tensor *image = lf_checktensor(L, 1, "image");
    fokus_tensor *map = lf_checktensor(L, 2, "map");
    lf_checkopts(L, 3, "overlay", known);
    fokus_overlay_opts o;
    memset(&o, 0, sizeof o);
    o.colormap = lf_optstring(L, 3, "overlay", "colormap", "viridis");
    o.alpha = lf_optnumber(L, 3, "overlay", "alpha", NAN);
    o.vmin = lf_optnumber(L, 3, "overlay", "min", NAN);
    o.vmax = lf_optnumber(L, 3, "overlay", "max", NAN);
    o.title = lf_optstring(L, 3, "overlay", "title", NULL);
    lua_Integer size = lf_optinteger(L, 3, "overlay", "size", 0);
    if (size < 0 || size > 4096) luaL_error(L, "overlay: option 'size' must be in 1..4096, got %d", (int)size);
    o.size = (int)size;
    fokus_tensor *dst = lf_optout(L, 3, "overlay");
    o.font = opt_font(L, 3, "overlay");
    fokus_tensor img = {0};
    fokus_error err;
    if (fokus_overlay(lf_ctx(L), image, map, &o, dst, &img, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (dst) {
        lf_pushout(L, 3);
        return 1;
    }
    lf_pushtensor(L, &img);
    return 1;
}

/* fokus.contact_sheet(images [, {cols, labels, title, colorbar, colormap, font, out}]) */
static int l_contact_sheet(lua_State *L)
{
    static const char *const known[] = {"cols", "labels", "title", "colorbar", "colormap", "font", "out", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    lf_checkopts(L, 2, "contact_sheet", known);
    size_t n = (size_t)luaL_len(L, 1);
    if (n < 1 || n > 1024) lf_argerror(L, 1, "images: expected 1..1024 pictures, got %d", (int)n);
    const fokus_tensor **imgs = lua_newuserdata(L, n * sizeof *imgs);
    for (size_t i = 0; i < n; i++) {
        lua_geti(L, 1, (lua_Integer)i + 1);
        imgs[i] = lf_totensor(L, -1);
        if (!imgs[i]) lf_argerror(L, 1, "images[%d]: expected a fokus.Tensor, got %s", (int)i + 1, luaL_typename(L, -1));
        lua_pop(L, 1); /* referenced by the images table */
    }
    fokus_sheet_opts o;
    memset(&o, 0, sizeof o);
    lua_Integer cols = lf_optinteger(L, 2, "contact_sheet", "cols", 0);
    if (cols < 0 || cols > 1024) luaL_error(L, "contact_sheet: option 'cols' must be in 1..1024, got %d", (int)cols);
    o.cols = (int)cols;
    o.title = lf_optstring(L, 2, "contact_sheet", "title", NULL);
    const char *cmap = lf_optstring(L, 2, "contact_sheet", "colormap", "viridis");
    if (opt_colorbar(L, 2, "contact_sheet", &o.colorbar_label)) o.colorbar = cmap;
    fokus_tensor *dst = lf_optout(L, 2, "contact_sheet");
    size_t nl;
    o.labels = string_array(L, 2, "contact_sheet", "labels", &nl);
    if (o.labels && nl != n) luaL_error(L, "contact_sheet: %d labels for %d pictures", (int)nl, (int)n);
    o.font = opt_font(L, 2, "contact_sheet");
    fokus_tensor img = {0};
    fokus_error err;
    if (fokus_contact_sheet(lf_ctx(L), imgs, n, &o, dst, &img, &err) != FOKUS_OK) return lf_raise(L, &err);
    if (dst) {
        lf_pushout(L, 2);
        return 1;
    }
    lf_pushtensor(L, &img);
    return 1;
}

/* fokus.text(img, text [, {x, y, size, color = {r, g, b}, vertical, font}]) -> img,
 * drawn in place; x, y are the 1-based pixel of the text box's top-left corner. */
static int l_text(lua_State *L)
{
    static const char *const known[] = {"x", "y", "size", "color", "vertical", "font", NULL};
    fokus_tensor *img = lf_checktensor(L, 1, "img");
    const char *text = luaL_checkstring(L, 2);
    lf_checkopts(L, 3, "text", known);
    lua_Integer x = lf_optinteger(L, 3, "text", "x", 1), y = lf_optinteger(L, 3, "text", "y", 1);
    if (x < -65536 || x > 65536 || y < -65536 || y > 65536) luaL_error(L, "text: x and y must be within +-65536");
    double size = lf_optnumber(L, 3, "text", "size", 14);
    bool vertical = lf_optbool(L, 3, "text", "vertical", 0);
    uint8_t rgb[3] = {25, 25, 25};
    if (lua_istable(L, 3) && lua_getfield(L, 3, "color") != LUA_TNIL) {
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3) luaL_error(L, "text: option 'color' must be {r, g, b} with 0..255 each");
        for (int k = 0; k < 3; k++) {
            lua_geti(L, -1, k + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok || v < 0 || v > 255) luaL_error(L, "text: option 'color' must be {r, g, b} with 0..255 each");
            rgb[k] = (uint8_t)v;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    } else if (lua_istable(L, 3)) {
        lua_pop(L, 1);
    }
    const fokus_font *f = opt_font(L, 3, "text");
    fokus_error err;
    if (fokus_draw_text(img, f, text, size, (int)x - 1, (int)y - 1, rgb, vertical, &err) != FOKUS_OK) return lf_raise(L, &err);
    lua_pushvalue(L, 1);
    return 1;
}

/* fokus.font() -> name, truetype: the font pictures use by default in this state. */
static int l_font(lua_State *L)
{
    fokus_font *f = default_font(L, "font", false);
    lua_pushstring(L, fokus_font_name(f));
    lua_pushboolean(L, fokus_font_is_truetype(f));
    return 2;
}

/* fokus.save_png(path, img [, {text = {key = value, ...}}]) -> true | nil, "path: reason" */
static int l_save_png(lua_State *L)
{
    static const char *const known[] = {"text", NULL};
    const char *path = luaL_checkstring(L, 1);
    fokus_tensor *img = lf_checktensor(L, 2, "img");
    lf_checkopts(L, 3, "save_png", known);
    fokus_png_text *text = NULL;
    size_t n = 0;
    if (lua_istable(L, 3) && lua_getfield(L, 3, "text") != LUA_TNIL) {
        int t = lua_gettop(L);
        if (!lua_istable(L, t)) luaL_error(L, "save_png: option 'text' must be a table of strings by key, got %s", luaL_typename(L, t));
        size_t cap = 0;
        for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) cap++;
        text = lua_newuserdata(L, (cap ? cap : 1) * sizeof *text);
        /* keys in sorted order, so the same table always gives the same file */
        lua_createtable(L, (int)cap, 0);
        int keys = lua_gettop(L);
        for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "save_png: option 'text' must map string keys to string values, got %s = %s",
                           luaL_typename(L, -2), luaL_typename(L, -1));
            lua_pushvalue(L, -2);
            lua_rawseti(L, keys, (lua_Integer)++n);
        }
        for (size_t i = 1; i < n; i++) /* insertion sort: a handful of keys */
            for (size_t j = i; j > 0; j--) {
                lua_rawgeti(L, keys, (lua_Integer)j);
                lua_rawgeti(L, keys, (lua_Integer)j + 1);
                bool swap = strcmp(lua_tostring(L, -2), lua_tostring(L, -1)) > 0;
                if (swap) {
                    lua_rawseti(L, keys, (lua_Integer)j);
                    lua_rawseti(L, keys, (lua_Integer)j + 1);
                } else {
                    lua_pop(L, 2);
                    break;
                }
            }
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, keys, (lua_Integer)i + 1);
            text[i].key = lua_tostring(L, -1); /* anchored in `keys` and `t` */
            lua_gettable(L, t);
            text[i].value = lua_tolstring(L, -1, &text[i].len);
            lua_pop(L, 1);
        }
    } else if (lua_istable(L, 3)) {
        lua_pop(L, 1);
    }
    fokus_error err;
    fokus_status st = fokus_png_save(path, img, text, n, &err);
    if (st != FOKUS_OK) return lf_status(L, st, &err, path);
    lua_pushboolean(L, 1);
    return 1;
}

/* fokus.load_png(path) -> img u8 [H, W, C], text {key = value} | nil, "path: reason" */
static int l_load_png(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    fokus_tensor img;
    fokus_png_text *text = NULL;
    size_t n = 0;
    fokus_error err;
    fokus_status st = fokus_png_load(lf_ctx(L), path, &img, &text, &n, &err);
    if (st != FOKUS_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, err.msg);
        return 2;
    }
    lf_pushtensor(L, &img);
    lua_createtable(L, 0, (int)n);
    for (size_t i = 0; i < n; i++) {
        lua_pushlstring(L, text[i].value, text[i].len);
        lua_setfield(L, -2, text[i].key);
    }
    fokus_png_text_free(text, n);
    return 2;
}

void lf_open_image(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", font_gc}, {"__close", font_gc}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{NULL, NULL}};
    static const luaL_Reg funcs[] = {{"heatmap", l_heatmap},   {"overlay", l_overlay},   {"contact_sheet", l_contact_sheet},
                                     {"text", l_text},         {"font", l_font},         {"save_png", l_save_png},
                                     {"load_png", l_load_png}, {NULL, NULL}};
    lf_newclass(L, LF_FONT, meta, methods);
    luaL_setfuncs(L, funcs, 0);
}
