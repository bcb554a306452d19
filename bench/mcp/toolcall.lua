-- wrk script for bench/mcp/toolcall.py: tools/call add(1, 2) over Streamable HTTP.
-- Arguments (after --): the protocol era, then (2025-11-25) the session ids to go round.
-- Every answer is checked: status 200, the text "3", no isError; done() prints the count of others.

local era
local headers = {}      -- one header table per session (2025-11-25) or one (2026-07-28)
local n = 0
bad = 0                 -- global: done() reads it from each thread with thread:get
local threads = {}

local LEGACY = '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}'
local MODERN = '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2},'
  .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
  .. '"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1.0"},'
  .. '"io.modelcontextprotocol/clientCapabilities":{}}}}'

local function base()
  return {["Content-Type"] = "application/json", ["Accept"] = "application/json, text/event-stream"}
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  era = args[1]
  if era == "2026-07-28" then
    local h = base()
    h["MCP-Protocol-Version"] = era
    h["Mcp-Method"] = "tools/call"
    h["Mcp-Name"] = "add"
    headers[1] = h
  else
    for i = 2, #args do
      local h = base()
      h["MCP-Protocol-Version"] = era
      h["Mcp-Session-Id"] = args[i]
      headers[#headers + 1] = h
    end
  end
end

function request()
  n = n + 1
  local body = string.format(era == "2026-07-28" and MODERN or LEGACY, n)
  return wrk.format("POST", nil, headers[(n % #headers) + 1], body)
end

function response(status, hdrs, body)
  if status ~= 200 or not string.find(body, '"text":"3"', 1, true) or string.find(body, '"isError":true', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do
    total = total + t:get("bad")
  end
  io.write(string.format("bad answers: %d\n", total))
end
