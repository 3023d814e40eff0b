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
  fokus.define = function(spec) return define.define(spec, 2) end
  fokus.node_types = define.node_types

  -- fokus.graph() -> graph; fokus.graph.from_json(text) -> graph
  fokus.graph = setmetatable({}, {
    __call = function() return graph.new() end,
  })

  -- local nodes = fokus.nodes(g); nodes.encode{clip = c, tokens = t} adds a node to g
  fokus.nodes = graph.sugar

  local ok_wf, workflow = pcall(require, "fokus.workflow")
  if ok_wf then workflow.install(fokus, Graph) elseif not tostring(workflow):find("not found") then error(workflow) end
  local ok_dot, dot = pcall(require, "fokus.dot")
  if ok_dot then Graph.to_dot = dot.to_dot elseif not tostring(dot):find("not found") then error(dot) end
  local ok_st, stock = pcall(require, "fokus.stock")
  if ok_st then stock.install(fokus) elseif not tostring(stock):find("not found") then error(stock) end
end

return M
