-- fokus: the Lua facade over the C module `fokus.core`.
--
-- `require "fokus"` returns this table: every function of the C module (tensors,
-- files, attention, ...) plus the Lua-side pieces (node definitions and the graph
-- runtime, as they land). Method forms live on the Tensor metatable in C.
local core = require "fokus.core"

local fokus = {}
for k, v in pairs(core) do fokus[k] = v end

fokus.core = core

return fokus
