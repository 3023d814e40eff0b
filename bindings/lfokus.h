/*
 * Shared helpers of the Lua binding (the module `fokus.core`).
 *
 * The binding only translates: it checks arguments, wraps core objects as userdata and
 * turns status codes into Lua errors. Programmer errors (wrong types, shapes, unknown
 * options) raise; environmental failures (missing file, corrupt data) return
 * nil, "path: reason" like io.open.
 *
 * Object lifetime: every Lua object is a full userdata with __gc and __close (the same
 * idempotent body). Tensor views keep their parent alive through the refcount of the
 * core storage (fokus_tensor owns one reference), not through user values.
 */
#ifndef LFOKUS_H
#define LFOKUS_H

#include <lauxlib.h>
#include <lua.h>

#include "fokus.h"

#define LF_TENSOR "fokus.Tensor"
#define LF_TOKENIZER "fokus.Tokenizer"

typedef struct lf_tensor {
    fokus_tensor t; /* owns one storage reference; zeroed once released */
} lf_tensor;

/* The context (thread pool, scratch) of this Lua state, created by luaopen_fokus_core. */
fokus_ctx *lf_ctx(lua_State *L);

/* Raises "bad argument #arg to 'fname' (message)" with a printf-style message. */
int lf_argerror(lua_State *L, int arg, const char *fmt, ...);

/* Raises a Lua error with err->msg for programmer errors (FOKUS_EINVAL, FOKUS_ERANGE),
 * or pushes nil, "prefix: msg" and returns 2 for environmental ones (I/O, format,
 * memory). Use as: `if (st != FOKUS_OK) return lf_status(L, st, &err, path);` */
int lf_status(lua_State *L, fokus_status st, const fokus_error *err, const char *prefix);

/* Raises the message of a failed core call (any status). */
int lf_raise(lua_State *L, const fokus_error *err);

/* Tensors */
fokus_tensor *lf_checktensor(lua_State *L, int arg, const char *name);
fokus_tensor *lf_totensor(lua_State *L, int arg);   /* NULL when not a live Tensor */
/* Pushes a new Tensor userdata that takes over `t`'s reference (t is zeroed), then
 * lets the bytes allocated so far pace the collector (lf_gc_account). */
void lf_pushtensor(lua_State *L, fokus_tensor *t);
/* Runs a full collection when the tensor bytes allocated since the last one exceed
 * the live set (at least 8 MiB and 4x the Lua heap), so loops that drop their results stay near their
 * live set without collectgarbage() calls. */
void lf_gc_account(lua_State *L);
/* opts.out of the option table at `arg`: NULL when absent; raises when it is not a
 * live tensor. A function that writes into it returns that same userdata
 * (lf_pushout). */
fokus_tensor *lf_optout(lua_State *L, int arg, const char *fname);
void lf_pushout(lua_State *L, int arg);
/* Reads a shape array {n1, n2, ...} (or varargs of integers starting at arg). */
int lf_checkshape(lua_State *L, int arg, const char *fname, int64_t shape[FOKUS_MAX_DIMS]);
fokus_dtype lf_checkdtype(lua_State *L, int arg, const char *fname);
/* Pushes a shape as a Lua array. */
void lf_pushshape(lua_State *L, const fokus_tensor *t);

/* Option tables: checks that the table at `arg` (nil allowed) has only keys from
 * `known` (NULL-terminated); raises "fname: unknown option 'casual' (did you mean
 * 'causal'?)" otherwise. Then the getters read one typed field each; a field of the
 * wrong type raises "fname: option 'x' must be a <type>, got <type>". */
void lf_checkopts(lua_State *L, int arg, const char *fname, const char *const *known);
int lf_optbool(lua_State *L, int arg, const char *fname, const char *key, int def);
lua_Number lf_optnumber(lua_State *L, int arg, const char *fname, const char *key, lua_Number def);
lua_Integer lf_optinteger(lua_State *L, int arg, const char *fname, const char *key, lua_Integer def);
const char *lf_optstring(lua_State *L, int arg, const char *fname, const char *key, const char *def);
fokus_tensor *lf_opttensor(lua_State *L, int arg, const char *fname, const char *key);

/* The `weights` argument of a model constructor (fokus.clip, fokus.dit, ...): a path to
 * a .safetensors file or a table name -> Tensor from fokus.load. On success returns 0
 * with *e, *n set: for a path they are file->entries (fokus_st_free(file) once the
 * model is built: models keep their own references); for a table they are borrowed
 * from it through a userdata left on the stack (file stays empty). When the file cannot
 * be read, pushes nil, "path: reason" and returns 2. Raises for any other type. */
int lf_weights(lua_State *L, int arg, const char *fname, fokus_st_file *file, const fokus_st_entry **e, size_t *n);
/* The failure of building a model from the weights at `arg`: for a path, a bad option
 * (FOKUS_EINVAL) raises "path: msg" and a bad file returns nil, "path: msg"; for a
 * table every failure raises (the caller built the table). */
int lf_weights_error(lua_State *L, int arg, fokus_status st, const fokus_error *err);

/* Creates (once per state) the metatable `name` for a userdata type: `meta` holds the
 * metamethods (__gc, __close, __tostring), `methods` becomes __index. Like liolib's
 * createmeta. */
void lf_newclass(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods);

/* Registration of each part of the module into the table on top of the stack. */
void lf_open_tensor(lua_State *L);
void lf_open_io(lua_State *L);
void lf_open_attend(lua_State *L);
void lf_open_image(lua_State *L);
void lf_open_matmul(lua_State *L);
void lf_open_clip(lua_State *L);
void lf_open_dit(lua_State *L);
void lf_open_mmdit(lua_State *L);
void lf_open_tokenizer(lua_State *L);
void lf_open_prompt(lua_State *L);
void lf_open_sampler(lua_State *L);
void lf_open_json(lua_State *L);

/* The tokenizer at `arg` (raises when it is not one, or is closed). */
fokus_bpe *lf_checktokenizer(lua_State *L, int arg);

#endif
