/* Embedding: two lua_States on two threads, each `require "fokus"` and running a node
 * graph (tiny MMDiT sampling, a user-defined node type) at the same time. Each state
 * has its own context, thread pool, allocator and node registry, so both results must
 * equal the ones computed one state at a time, bit for bit, and neither state may see
 * the other's node types. */
#include <pthread.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "check.h"

int luaopen_fokus_core(lua_State *L);

#ifndef FOKUS_SOURCE_ROOT
#define FOKUS_SOURCE_ROOT "."
#endif

static const char *script =
    "local name, seed, rounds = ...\n"
    "local fokus = require 'fokus'\n"
    "fokus.threads(1)\n"
    "fokus.define{type = 'scale_' .. name, inputs = {{'x', 'LATENT'}, {'k', 'FLOAT'}},\n"
    "             outputs = {{'y', 'LATENT'}}, run = function(i) return fokus.axpby(i.k, i.x) end}\n"
    "for _, t in ipairs(fokus.node_types()) do\n"
    "  if t.type:match('^scale_') and t.type ~= 'scale_' .. name then error('registry shared: ' .. t.type) end\n"
    "end\n"
    "local g = fokus.graph()\n"
    "local n = fokus.nodes(g)\n"
    "local m = n.tiny_mmdit{seed = 1}\n"
    "local lat = n.empty_latent{model = m, width = 8, height = 8}\n"
    "local noise = n.noise{latent = lat, seed = seed}\n"
    "local cond = n.conditioning{context = n.randn{shape = {1, 5, 64}, seed = 7},\n"
    "                            pooled = n.randn{shape = {1, 64}, seed = 8}}\n"
    "local s = n.sample{model = m, noise = noise, cond = cond, steps = 4}\n"
    "local y = n['scale_' .. name]{x = s, k = 2}\n"
    "local r, rep\n"
    "for round = 1, rounds do g:clear(); r, rep = g:run{events = false} end\n"
    "assert(#rep.executed == 8, 'executed ' .. #rep.executed)\n"
    "r, rep = g:run{events = false}\n"
    "assert(#rep.executed == 0 and #rep.cached == 8, 'not cached')\n"
    "local g2 = assert(fokus.graph.from_json(g:to_json()))\n"
    "assert(g2:to_json() == g:to_json(), 'json round trip')\n"
    "local t = r[y].y:reshape{-1}:totable()\n"
    "local sum = 0\n"
    "for i = 1, #t do sum = sum + t[i] * i end\n"
    "return sum\n";

typedef struct {
    const char *name;
    int seed;
    int rounds;
    double result;
    int ok;
    char err[1024];
} job;

static void set_path(lua_State *L)
{
    const char *root = getenv("FOKUS_ROOT");
    if (!root || !*root) root = FOKUS_SOURCE_ROOT;
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_fokus_core);
    lua_setfield(L, -2, "fokus.core");
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/nodes/?.lua;%s/nodes/?/init.lua", root, root);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
}

static void *run_job(void *arg)
{
    job *j = arg;
    lua_State *L = luaL_newstate();
    if (!L) {
        snprintf(j->err, sizeof j->err, "no memory for a Lua state");
        return NULL;
    }
    luaL_openlibs(L);
    set_path(L);
    if (luaL_loadstring(L, script) != LUA_OK) {
        snprintf(j->err, sizeof j->err, "%s", lua_tostring(L, -1));
    } else {
        lua_pushstring(L, j->name);
        lua_pushinteger(L, j->seed);
        lua_pushinteger(L, j->rounds);
        if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
            snprintf(j->err, sizeof j->err, "%s", lua_tostring(L, -1));
        } else {
            j->result = lua_tonumber(L, -1);
            j->ok = 1;
        }
    }
    lua_close(L);
    return NULL;
}

static void test_two_states_two_threads(void)
{
    job ref[2] = {{"a", 11, 1, 0, 0, ""}, {"b", 12, 1, 0, 0, ""}};
    for (int k = 0; k < 2; k++) {
        run_job(&ref[k]);
        CHECK_MSG(ref[k].ok, "reference %s: %s", ref[k].name, ref[k].err);
    }
    CHECK(ref[0].result != ref[1].result); /* different seeds, different latents */

    job jobs[2] = {{"a", 11, 20, 0, 0, ""}, {"b", 12, 20, 0, 0, ""}};
    pthread_t t[2];
    for (int k = 0; k < 2; k++) CHECK(pthread_create(&t[k], NULL, run_job, &jobs[k]) == 0);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 2; k++) {
        CHECK_MSG(jobs[k].ok, "thread %s: %s", jobs[k].name, jobs[k].err);
        CHECK_MSG(jobs[k].result == ref[k].result, "thread %s: %.17g vs %.17g alone", jobs[k].name, jobs[k].result,
                  ref[k].result);
    }
}

int main(void)
{
    RUN(test_two_states_two_threads);
    return check_summary("test_states");
}
