rockspec_format = "3.0"
package = "fokus"
version = "scm-1"
source = {
   url = "git+file://."
}
description = {
   summary = "SIMD flash attention, CLIP tokenizer and encoder, DiT blocks for Lua workflow scripts",
   detailed = [[
fokus is a C library with a vectorized attention core, exposed to Lua 5.4 as the
module `fokus` (tokenize, weight, encode, attend, dit_step).]],
   license = "MIT"
}
dependencies = {
   "lua >= 5.4, < 5.5"
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
      LUA_INCDIR = "$(LUA_INCDIR)",
   },
   install_target = "install",
   install_variables = {
      LUADIR = "$(LUADIR)",
      LIBDIR = "$(LIBDIR)",
      PREFIX = "$(PREFIX)",
   },
}
