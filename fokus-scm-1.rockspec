rockspec_format = "3.0"
package = "fokus"
version = "scm-1"
source = {
   url = "git+file://."
}
description = {
   summary = "SIMD flash attention, CLIP tokenizer and encoder, DiT blocks for Lua workflow scripts",
   detailed = [[
fokus is a C library with a vectorized attention core, exposed to Lua as the module
`fokus` (tokenize, weight, encode, attend, dit_step). One source builds for Lua 5.4,
Lua 5.3, Lua 5.2 and LuaJIT 2.1 (Neovim, OpenResty, LÖVE, mpv, ...).]],
   license = "MIT"
}
dependencies = {
   "lua >= 5.1, < 5.5"  -- LuaJIT 2.1, 5.2, 5.3 or 5.4 (not PUC-Rio 5.1: see bindings/lcompat.h)
}
external_dependencies = {
   JANSSON = { header = "jansson.h" },
   UTF8PROC = { header = "utf8proc.h" },
   ZLIB = { header = "zlib.h" },
}
build = {
   type = "make",
   build_target = "module",
   build_variables = {
      LUA = "$(LUA)",
      LUA_INCDIR = "$(LUA_INCDIR)",
   },
   install_target = "install",
   install_variables = {
      LUA = "$(LUA)",
      LUADIR = "$(LUADIR)",
      LIBDIR = "$(LIBDIR)",
      PREFIX = "$(PREFIX)",
   },
}
