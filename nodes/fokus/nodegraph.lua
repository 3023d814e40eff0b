-- The node layer assembled onto the facade: fokus.define, fokus.node_types,
-- fokus.graph (with fokus.graph.from_json), fokus.nodes, and the stock node types.
local define = require "fokus.define"
local graph = require "fokus.graph"
local run = require "fokus.run"

local M = {}

function M.install(fokus)
  local Graph = graph.Graph
  Graph.run = run.run
  Graph.clear = run.clear

  -- fokus.define{type =, inputs =, outputs =, run = ...} -> definition
  fokus.define = function(spec)
    local def = define.define(spec, 2) -- (not a tail call: errors point at the caller)
    return def
  end
  fokus.node_types = define.node_types

  -- fokus.graph() -> graph; fokus.graph.from_json(text) -> graph
  fokus.graph = setmetatable({}, {
    __call = function() return graph.new() end,
  })

  -- local nodes = fokus.nodes(g); nodes.encode{clip = c, tokens = t} adds a node to g
  fokus.nodes = graph.sugar

  require("fokus.workflow").install(fokus, Graph)
  Graph.to_dot = require("fokus.dot").to_dot
  require("fokus.stock").install(fokus)
end

return M
