-- wrk script for bench/scaleout/run.py, against the showcase with its API key (wrk ... URL -- KEY):
-- per 3 requests, POST /v1/chat/completions (model "auto"), POST /v1/feedback on one of the answers
-- received so far (a completion when none is waiting), POST /api/search (an embedding + a Chroma
-- query). Counts responses by status; the run reads the STATUS line (5xx must stay 0).
local threads = {}
function setup(thread) table.insert(threads, thread) end

local key, ids, head, tail, n
function init(args)
  key = args[1] or ""
  ids, head, tail, n = {}, 1, 0, 0
  statuses = {}
end

local chat = '{"model": "auto", "messages": [{"role": "user", "content": "How do two workers share one rate limit?"}]}'
local search = '{"query": "how do workers share state across hosts?", "top_k": 3}'

function request()
  n = n + 1
  local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = key}
  local k = n % 3
  if k == 1 and tail >= head then
    local id = ids[head]; ids[head] = nil; head = head + 1
    return wrk.format("POST", "/v1/feedback", headers, '{"query_id": "' .. id .. '", "quality": 0.8}')
  elseif k == 2 then
    return wrk.format("POST", "/api/search", headers, search)
  end
  return wrk.format("POST", "/v1/chat/completions", headers, chat)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local id = body and string.match(body, '"id":"chatcmpl%-([^"]+)"')
  if id and tail - head < 1000 then tail = tail + 1; ids[tail] = id end
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + count end
  end
  local parts = {}
  for code, count in pairs(total) do table.insert(parts, string.format("%d=%d", code, count)) end
  table.sort(parts)
  io.write("STATUS " .. table.concat(parts, " ") .. "\n")
end
