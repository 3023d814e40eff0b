/*
 * The one place where the Lua versions differ. The binding is written against the Lua 5.4
 * C API, restricted to what this header makes work, with the same behaviour and the same
 * error texts, under LuaJIT 2.1 (the 5.1 API: Neovim, OpenResty, LÖVE, OBS), Lua 5.2
 * (Debian's mpv), Lua 5.3 and Lua 5.4. Every binding source gets it through lfokus.h.
 *
 * Write 5.4-style code with these rules:
 * - Userdata: lua_newuserdatauv(L, size, 0 or 1). The one user value is a TABLE (LuaJIT
 *   keeps it in the environment slot, which takes tables only), set and read with
 *   lua_setiuservalue(L, idx, 1) / lua_getiuservalue(L, idx, 1); never a second one.
 * - Integers: luaL_checkinteger, luaL_optinteger, lua_tointegerx, lua_tointeger and
 *   lua_isinteger behave as in 5.4 everywhere: a float with a fraction is not an integer
 *   ("number has no integer representation"; lua_tointeger gives 0). LuaJIT and 5.2 have
 *   no integer subtype: there "integer" means a number with an integral value in range,
 *   and lua_pushinteger pushes a double (exact up to 2^53). LC_HAS_INTEGERS says which.
 * - Error texts: lua_pushfstring / luaL_error only with %s %d %c %p %% (%d takes an int).
 *   Format a lua_Integer with lc_fmtint and a lua_Number with lc_fmtnum into a
 *   char[LC_NUMBUF] and pass it as %s: LuaJIT and 5.2 have no %I and print %f without the
 *   ".0" that 5.3+ add. (printf-style helpers such as lf_argerror use C's vsnprintf, where
 *   every format is fine.) Type errors of luaL_check* name a userdata by its metatable's
 *   __name as 5.3+ do.
 * - Available everywhere (mapped here when the host lacks them): luaL_setfuncs, luaL_newlib,
 *   luaL_testudata, luaL_setmetatable, luaL_newmetatable (sets __name), luaL_checkversion,
 *   luaL_len, luaL_tolstring, luaL_getsubtable, luaL_getmetafield (returns the type),
 *   luaL_typeerror, luaL_argexpected, luaL_pushfail, lua_rawlen, lua_absindex, lua_rawgetp,
 *   lua_rawsetp, lua_geti, lua_seti, lua_getfield / lua_gettable / lua_rawget / lua_rawgeti /
 *   lua_rawgetp returning the type, lua_gc(L, what [, data]), lua_numbertointeger, LUA_OK,
 *   LUA_MININTEGER, LUA_MAXINTEGER; lc_tofile (the FILE of an io library file).
 * - Not available: more than one user value, lua_toclose and <close> (__close is set anyway
 *   and is harmless before 5.4; every object also has a close() method), lua_arith,
 *   lua_compare, lua_rotate, lua_stringtonumber, lua_callk / continuations, lua_resume,
 *   lua_warning, LUA_OPBAND & co, luaL_Stream (use lc_tofile), LUA_LOADED_TABLE.
 */
#ifndef LCOMPAT_H
#define LCOMPAT_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h> /* LUA_FILEHANDLE */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if LUA_VERSION_NUM == 501 && !defined(LUA_OK)
#error "fokus: of the Lua 5.1 family only LuaJIT 2.1 is supported"
#elif LUA_VERSION_NUM > 504
#error "fokus: build against LuaJIT 2.1, Lua 5.2, 5.3 or 5.4"
#endif

#define LC_NUMBUF 48

/* A lua_Integer in decimal, for %s in error texts. */
static inline const char *lc_fmtint(char buf[LC_NUMBUF], lua_Integer v)
{
    snprintf(buf, LC_NUMBUF, "%lld", (long long)v);
    return buf;
}

/* A lua_Number as Lua 5.4's tostring writes a float ("%.14g", and ".0" when that looks
 * like an integer; "nan" for every NaN), for %s in error texts. */
static inline const char *lc_fmtnum(char buf[LC_NUMBUF], lua_Number v)
{
    if (v != v) return strcpy(buf, "nan");
    if (isinf(v)) return strcpy(buf, v > 0 ? "inf" : "-inf");
    int n = snprintf(buf, LC_NUMBUF - 3, "%.14g", (double)v);
    if (n > 0 && buf[strspn(buf, "-0123456789")] == '\0') strcpy(buf + n, ".0");
    return buf;
}

/* The FILE of an io library file object at idx, or NULL (also for a closed one, which
 * sets *closed). LuaJIT's file userdata also starts with the FILE pointer, NULL once
 * closed; 5.2+ use luaL_Stream. */
static inline FILE *lc_tofile(lua_State *L, int idx, int *closed)
{
    *closed = 0;
#if LUA_VERSION_NUM == 501
    FILE **p = luaL_testudata(L, idx, LUA_FILEHANDLE);
    if (!p) return NULL;
    *closed = *p == NULL;
    return *p;
#else
    luaL_Stream *p = luaL_testudata(L, idx, LUA_FILEHANDLE);
    if (!p) return NULL;
    *closed = p->closef == NULL;
    return *closed ? NULL : p->f;
#endif
}

/* ------------------------------------------------------------------ before 5.4 */
#if LUA_VERSION_NUM < 504

#define lua_newuserdatauv(L, size, nuv) lua_newuserdata(L, size)
#define luaL_pushfail(L) lua_pushnil(L)
/* lua_gc(L, what) as in 5.4 (the data argument is optional there) */
#define lc_gc_(L, what, data, ...) (lua_gc)(L, what, data)
#define lua_gc(...) lc_gc_(__VA_ARGS__, 0, 0)
#define luaL_argexpected(L, cond, arg, tname) ((void)((cond) || luaL_typeerror(L, (arg), (tname))))
#endif

#if LUA_VERSION_NUM == 503
#define lua_setiuservalue(L, idx, n) (lua_setuservalue(L, idx), 1)
#define lua_getiuservalue(L, idx, n) lua_getuservalue(L, idx)
#define LC_HAS_INTEGERS 1
#elif LUA_VERSION_NUM == 504
#define LC_HAS_INTEGERS 1
#endif

/* ------------------------------------------------------------------ LuaJIT (5.1 API) */
#if LUA_VERSION_NUM == 501

#define lua_rawlen(L, idx) lua_objlen(L, idx)
#define luaL_checkversion(L) ((void)0)

static inline int lua_absindex(lua_State *L, int idx)
{
    return idx > 0 || idx <= LUA_REGISTRYINDEX ? idx : lua_gettop(L) + idx + 1;
}

#endif

/* ------------------------------------------------------------------ no integer subtype: LuaJIT, 5.2 */
#if LUA_VERSION_NUM <= 502

#define LC_HAS_INTEGERS 0
#define LUA_MAXINTEGER PTRDIFF_MAX
#define LUA_MININTEGER PTRDIFF_MIN
/* -2^63 <= n < 2^63 (both bounds are exact doubles) */
#define lua_numbertointeger(n, p) \
    ((n) >= -9223372036854775808.0 && (n) < 9223372036854775808.0 && (*(p) = (lua_Integer)(n), 1))

/* The getters return the type of the pushed value, as in 5.3+. The parenthesised names
 * call the host's own functions. */
static inline int lc_getfield(lua_State *L, int idx, const char *k)
{
    (lua_getfield)(L, idx, k);
    return lua_type(L, -1);
}
#define lua_getfield(L, idx, k) lc_getfield(L, idx, k)

static inline int lc_gettable(lua_State *L, int idx)
{
    (lua_gettable)(L, idx);
    return lua_type(L, -1);
}
#define lua_gettable(L, idx) lc_gettable(L, idx)

static inline int lc_rawget(lua_State *L, int idx)
{
    (lua_rawget)(L, idx);
    return lua_type(L, -1);
}
#define lua_rawget(L, idx) lc_rawget(L, idx)

static inline int lc_rawgeti(lua_State *L, int idx, lua_Integer n)
{
    (lua_rawgeti)(L, idx, (int)n);
    return lua_type(L, -1);
}
#define lua_rawgeti(L, idx, n) lc_rawgeti(L, idx, n)

static inline int lua_geti(lua_State *L, int idx, lua_Integer n)
{
    idx = lua_absindex(L, idx);
    lua_pushnumber(L, (lua_Number)n);
    return lua_gettable(L, idx);
}

static inline void lua_seti(lua_State *L, int idx, lua_Integer n)
{
    idx = lua_absindex(L, idx);
    lua_pushnumber(L, (lua_Number)n);
    lua_insert(L, -2);
    lua_settable(L, idx);
}

/* Pushes the field and returns its type when there is one; else pushes nothing and
 * returns LUA_TNIL (5.3+). */
static inline int lc_getmetafield(lua_State *L, int obj, const char *e)
{
    if (!(luaL_getmetafield)(L, obj, e)) return LUA_TNIL;
    return lua_type(L, -1);
}
#define luaL_getmetafield(L, obj, e) lc_getmetafield(L, obj, e)

/* Also sets __name, which 5.3+ type errors and luaL_tolstring use. */
static inline int lc_newmetatable(lua_State *L, const char *tname)
{
    if (!(luaL_newmetatable)(L, tname)) return 0;
    lua_pushstring(L, tname);
    lua_setfield(L, -2, "__name");
    return 1;
}
#define luaL_newmetatable(L, tname) lc_newmetatable(L, tname)

#endif /* LUA_VERSION_NUM <= 502 (shims) */

#if LUA_VERSION_NUM == 501

static inline int lua_rawgetp(lua_State *L, int idx, const void *p)
{
    idx = lua_absindex(L, idx);
    lua_pushlightuserdata(L, (void *)p);
    return lua_rawget(L, idx);
}

static inline void lua_rawsetp(lua_State *L, int idx, const void *p)
{
    idx = lua_absindex(L, idx);
    lua_pushlightuserdata(L, (void *)p);
    lua_insert(L, -2);
    lua_rawset(L, idx);
}

/* One user value, a table, in the environment slot. */
static inline int lua_setiuservalue(lua_State *L, int idx, int n)
{
    (void)n;
    return lua_setfenv(L, idx);
}

static inline int lua_getiuservalue(lua_State *L, int idx, int n)
{
    (void)n;
    lua_getfenv(L, idx);
    return lua_type(L, -1);
}

/* #t honouring __len, as an integer (5.2+). */
static inline lua_Integer luaL_len(lua_State *L, int idx)
{
    if (luaL_callmeta(L, idx, "__len")) {
        int ok = lua_type(L, -1) == LUA_TNUMBER;
        lua_Number n = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (!ok || n != floor(n)) luaL_error(L, "object length is not an integer");
        return (lua_Integer)n;
    }
    return (lua_Integer)lua_objlen(L, idx);
}

static inline int luaL_getsubtable(lua_State *L, int idx, const char *fname)
{
    if (lua_getfield(L, idx, fname) == LUA_TTABLE) return 1;
    lua_pop(L, 1);
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, idx, fname);
    return 0;
}

#endif

/* ------------------------------------------------------------------ Lua 5.2 */
#if LUA_VERSION_NUM == 502

static inline int lc_rawgetp(lua_State *L, int idx, const void *p)
{
    (lua_rawgetp)(L, idx, p);
    return lua_type(L, -1);
}
#define lua_rawgetp(L, idx, p) lc_rawgetp(L, idx, p)

/* One user value, a table (5.2 takes a table or nil) */
#define lua_setiuservalue(L, idx, n) (lua_setuservalue(L, idx), 1)
static inline int lua_getiuservalue(lua_State *L, int idx, int n)
{
    (void)n;
    lua_getuservalue(L, idx);
    return lua_type(L, -1);
}

#endif


#if LUA_VERSION_NUM < 504
/* "bad argument #1 to 'f' (number expected, got fokus.Tensor)", as 5.4 writes it */
static inline int lc_typeerror(lua_State *L, int arg, const char *tname)
{
    const char *typearg;
    if (luaL_getmetafield(L, arg, "__name") == LUA_TSTRING)
        typearg = lua_tostring(L, -1);
    else if (lua_type(L, arg) == LUA_TLIGHTUSERDATA)
        typearg = "light userdata";
    else
        typearg = luaL_typename(L, arg);
    return luaL_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", tname, typearg));
}
#define luaL_typeerror(L, arg, tname) lc_typeerror(L, arg, tname)
#endif

#if LUA_VERSION_NUM <= 502 /* checkers with the 5.4 semantics and texts */

/* The integer value of the number (or numeric string) at idx when it has one: an integral
 * value in range, as 5.3+'s lua_tointegerx; *isnum (optional) says whether it had. */
static inline lua_Integer lc_tointegerx(lua_State *L, int idx, int *isnum)
{
    lua_Integer v = 0;
    int ok = 0;
    if (lua_isnumber(L, idx)) {
        lua_Number n = lua_tonumber(L, idx);
        ok = n == floor(n) && lua_numbertointeger(n, &v);
    }
    if (isnum) *isnum = ok;
    return ok ? v : 0;
}
#define lua_tointegerx(L, idx, isnum) lc_tointegerx(L, idx, isnum)
#undef lua_tointeger /* a macro in 5.2 */
#define lua_tointeger(L, idx) lc_tointegerx(L, idx, NULL)

/* A number (not a string) with an integer value: what 5.3+ calls an integer. */
static inline int lua_isinteger(lua_State *L, int idx)
{
    int ok;
    if (lua_type(L, idx) != LUA_TNUMBER) return 0;
    lc_tointegerx(L, idx, &ok);
    return ok;
}

static inline lua_Integer lc_checkinteger(lua_State *L, int arg)
{
    int ok;
    lua_Integer v = lc_tointegerx(L, arg, &ok);
    if (!ok) {
        if (lua_isnumber(L, arg))
            luaL_argerror(L, arg, "number has no integer representation");
        else
            lc_typeerror(L, arg, lua_typename(L, LUA_TNUMBER));
    }
    return v;
}
#define luaL_checkinteger(L, arg) lc_checkinteger(L, arg)
#define luaL_optinteger(L, arg, def) (lua_isnoneornil(L, (arg)) ? (lua_Integer)(def) : lc_checkinteger(L, (arg)))

static inline lua_Number lc_checknumber(lua_State *L, int arg)
{
    if (!lua_isnumber(L, arg)) lc_typeerror(L, arg, lua_typename(L, LUA_TNUMBER));
    return lua_tonumber(L, arg);
}
#define luaL_checknumber(L, arg) lc_checknumber(L, arg)
#define luaL_optnumber(L, arg, def) (lua_isnoneornil(L, (arg)) ? (lua_Number)(def) : lc_checknumber(L, (arg)))

static inline const char *lc_checklstring(lua_State *L, int arg, size_t *len)
{
    const char *s = lua_tolstring(L, arg, len);
    if (!s) lc_typeerror(L, arg, lua_typename(L, LUA_TSTRING));
    return s;
}
#define luaL_checklstring(L, arg, len) lc_checklstring(L, arg, len)
static inline const char *lc_optlstring(lua_State *L, int arg, const char *def, size_t *len)
{
    if (!lua_isnoneornil(L, arg)) return lc_checklstring(L, arg, len);
    if (len) *len = def ? strlen(def) : 0;
    return def;
}
#define luaL_optlstring(L, arg, def, len) lc_optlstring(L, arg, def, len)

static inline void lc_checktype(lua_State *L, int arg, int t)
{
    if (lua_type(L, arg) != t) lc_typeerror(L, arg, lua_typename(L, t));
}
#define luaL_checktype(L, arg, t) lc_checktype(L, arg, t)

static inline void *lc_checkudata(lua_State *L, int arg, const char *tname)
{
    void *p = luaL_testudata(L, arg, tname);
    if (!p) lc_typeerror(L, arg, tname);
    return p;
}
#define luaL_checkudata(L, arg, tname) lc_checkudata(L, arg, tname)

#endif

#if LUA_VERSION_NUM == 501
/* tostring(v) as 5.4 writes it (__tostring, __name), pushed; for numbers see lc_fmtnum. */
static inline const char *luaL_tolstring(lua_State *L, int idx, size_t *len)
{
    idx = lua_absindex(L, idx);
    if (luaL_callmeta(L, idx, "__tostring")) {
        if (!lua_isstring(L, -1)) luaL_error(L, "'__tostring' must return a string");
    } else {
        switch (lua_type(L, idx)) {
        case LUA_TNUMBER: {
            char b[LC_NUMBUF];
            lua_Number n = lua_tonumber(L, idx);
            if (n == floor(n) && fabs(n) < 9007199254740992.0)
                lua_pushstring(L, lc_fmtint(b, (lua_Integer)n));
            else
                lua_pushstring(L, lc_fmtnum(b, n));
            break;
        }
        case LUA_TSTRING: lua_pushvalue(L, idx); break;
        case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false"); break;
        case LUA_TNIL: lua_pushliteral(L, "nil"); break;
        default: {
            int tt = luaL_getmetafield(L, idx, "__name");
            const char *kind = tt == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, idx);
            lua_pushfstring(L, "%s: %p", kind, lua_topointer(L, idx));
            if (tt != LUA_TNIL) lua_remove(L, -2);
            break;
        }
        }
    }
    return lua_tolstring(L, -1, len);
}

#endif /* LUA_VERSION_NUM == 501 */

#endif
