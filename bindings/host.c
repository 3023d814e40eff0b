/* build/fokus: a small Lua 5.4 host that runs a workflow script with `require "fokus"`
 * resolving to this checkout (the module is linked in, the Lua side is found next to
 * the executable), so no environment variables are needed. Command line as lua5.4's:
 *   fokus [-e stat] [-l mod] [-v] [--] script [args]      (script "-" = stdin)
 *   fokus run workflow.json [--set id.input=value ...]     (a saved workflow; ./run for a script named run)
 * `arg` is set as lua5.4 sets it. Errors print the message and a traceback on stderr
 * and exit with status 1. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "fokus.h"

int luaopen_fokus_core(lua_State *L);

#ifndef FOKUS_SOURCE_ROOT
#define FOKUS_SOURCE_ROOT "."
#endif

static const char *progname = "fokus";

static bool is_checkout(const char *root)
{
    char p[PATH_MAX + 64];
    struct stat sb;
    snprintf(p, sizeof p, "%s/nodes/fokus/init.lua", root);
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The checkout root: two levels above the executable (ROOT/build/fokus), else the
 * directory the binary was built in. Empty when neither holds the Lua side (then the
 * installed module is used through the normal package.path). */
static void find_root(char *root, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    root[0] = 0;
    if (n > 0) {
        exe[n] = 0;
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = 0;
        }
        if (is_checkout(exe)) {
            snprintf(root, size, "%s", exe);
            return;
        }
    }
    if (is_checkout(FOKUS_SOURCE_ROOT)) snprintf(root, size, "%s", FOKUS_SOURCE_ROOT);
}

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

static int docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    int status = lua_pcall(L, narg, nres, base);
    lua_remove(L, base);
    return status;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s [options] script [args]\n"
            "  -e stat   execute string 'stat'\n"
            "  -l mod    require library 'mod' into global 'mod'\n"
            "  -v        show version information\n"
            "  --        stop handling options\n"
            "  -         execute stdin and stop handling options\n",
            progname);
}

/* arg table: script at 0, interpreter and options at negative indices. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
    lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int setup_paths(lua_State *L)
{
    char root[PATH_MAX];
    find_root(root, sizeof root);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_fokus_core);
    lua_setfield(L, -2, "fokus.core");
    lua_pop(L, 1);
    if (root[0]) {
        lua_getglobal(L, "package");
        lua_getfield(L, -1, "path");
        lua_pushfstring(L, "%s/nodes/?.lua;%s/nodes/?/init.lua;%s", root, root, lua_tostring(L, -1));
        lua_setfield(L, -3, "path");
        lua_pop(L, 2);
    }
    return 0;
}

/* `fokus run ...`: the Lua runner (nodes/fokus/cli.lua) gets the arguments after "run"
 * and returns the exit status; it prints its own one-line errors, so only an error
 * escaping it (a bug) gets a traceback. */
static int run_workflow(lua_State *L, int argc, char **argv)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, "fokus.cli");
    int status = docall(L, 1, 1);
    if (status == LUA_OK) {
        lua_getfield(L, -1, "main");
        lua_createtable(L, argc - 2 > 0 ? argc - 2 : 0, 0);
        for (int j = 2; j < argc; j++) {
            lua_pushstring(L, argv[j]);
            lua_rawseti(L, -2, j - 1);
        }
        status = docall(L, 1, 1);
    }
    if (status != LUA_OK) {
        report(L, status);
        lua_close(L);
        return 1;
    }
    int code = lua_type(L, -1) == LUA_TNUMBER ? (int)lua_tonumber(L, -1) : 1;
    lua_close(L);
    return code;
}

int main(int argc, char **argv)
{
    if (argv[0] && argv[0][0]) progname = argv[0];
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "%s: cannot create Lua state: not enough memory\n", progname);
        return 1;
    }
    luaL_openlibs(L);
    setup_paths(L);
    if (argc >= 2 && strcmp(argv[1], "run") == 0) return run_workflow(L, argc, argv);
    int i = 1, status = LUA_OK;
    /* first pass: find the script index so `arg` can be built before -e runs */
    int script = 0;
    for (int j = 1; j < argc; j++) {
        if (strcmp(argv[j], "--") == 0) {
            script = j + 1 < argc ? j + 1 : 0;
            break;
        }
        if (argv[j][0] != '-' || strcmp(argv[j], "-") == 0) {
            script = j;
            break;
        }
        if ((strcmp(argv[j], "-e") == 0 || strcmp(argv[j], "-l") == 0)) j++;
    }
    create_arg_table(L, argv, argc, script ? script : argc);
    for (; i < argc && status == LUA_OK; i++) {
        const char *a = argv[i];
        if (i == script) break;
        if (strcmp(a, "--") == 0) continue;
        if (strcmp(a, "-v") == 0) {
            printf("fokus %s (%s)\n", FOKUS_VERSION, LUA_RELEASE);
        } else if (strcmp(a, "-e") == 0 || strcmp(a, "-l") == 0) {
            if (i + 1 >= argc) {
                usage();
                lua_close(L);
                return 1;
            }
            const char *v = argv[++i];
            if (a[1] == 'e') {
                status = luaL_loadbuffer(L, v, strlen(v), "=(command line)");
                if (status == LUA_OK) status = docall(L, 0, 0);
            } else {
                lua_getglobal(L, "require");
                lua_pushstring(L, v);
                status = docall(L, 1, 1);
                if (status == LUA_OK) lua_setglobal(L, v);
            }
            report(L, status);
        } else {
            fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
            usage();
            lua_close(L);
            return 1;
        }
    }
    if (status == LUA_OK && script) {
        const char *fname = strcmp(argv[script], "-") == 0 ? NULL : argv[script];
        status = luaL_loadfile(L, fname);
        if (status == LUA_OK) {
            int n = argc - script - 1;
            luaL_checkstack(L, n + 3, "too many arguments to script");
            for (int j = script + 1; j < argc; j++) lua_pushstring(L, argv[j]);
            status = docall(L, n, LUA_MULTRET);
        }
        report(L, status);
    } else if (status == LUA_OK && argc == 1) {
        usage();
        lua_close(L);
        return 1;
    }
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}
