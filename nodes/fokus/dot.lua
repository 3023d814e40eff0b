-- g:to_dot(): the graph in Graphviz's language (`dot -Tsvg`), one box per node with
-- its id, type and constants, one edge per link labelled output -> input.
local define = require "fokus.define"
local graph = require "fokus.graph"

local M = {}

local function quote(s)
  return '"' .. tostring(s):gsub('[\\"]', "\\%0"):gsub("\n", "\\n") .. '"'
end

local function short(v)
  local tv = type(v)
  if tv == "string" then
    if #v > 40 then v = v:sub(1, 37) .. "..." end
    return string.format("%q", v)
  end
  if tv == "number" or tv == "boolean" then return tostring(v) end
  if tv == "table" and getmetatable(v) == nil then return "{...}" end
  return tostring(v)
end

function M.to_dot(g)
  local lines = {"digraph fokus {", "  rankdir=LR;", '  node [shape=box, fontname="monospace", fontsize=10];',
                 '  edge [fontname="monospace", fontsize=9];'}
  for _, n in ipairs(g.nodes) do
    local label = {n.id .. ": " .. n.type}
    local keys = {}
    for k in pairs(n.inputs) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      if not graph.link_of(n.inputs[k]) then label[#label + 1] = k .. " = " .. short(n.inputs[k]) end
    end
    local attrs = define.get(n.type) and "" or ", color=red"
    lines[#lines + 1] = string.format("  %s [label=%s%s];", quote("n" .. n.id), quote(table.concat(label, "\n")), attrs)
  end
  for _, n in ipairs(g.nodes) do
    local keys = {}
    for k in pairs(n.inputs) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local r = graph.link_of(n.inputs[k])
      if r then
        lines[#lines + 1] = string.format("  %s -> %s [label=%s];", quote("n" .. r.node.id), quote("n" .. n.id),
                                          quote(tostring(r.name or r.index) .. " -> " .. k))
      end
    end
  end
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n") .. "\n"
end

return M
