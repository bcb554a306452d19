-- wrk script for bench/scaleout/run.py: a mix of hello, router decisions and Chroma
-- searches, and a count of responses by status class (5xx is the figure that must stay 0).
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) n = 0; s2 = 0; s4 = 0; s5 = 0 end
local route_body = '{"text": "Explain how a rate limiter shares its counts across workers"}'
function request()
  n = n + 1
  local k = n % 4
  if k == 0 then
    return wrk.format("POST", "/v1/route", {["Content-Type"] = "application/json"}, route_body)
  elseif k == 1 then
    return wrk.format("GET", "/vec")
  end
  return wrk.format("GET", "/")
end
function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1 elseif status >= 400 then s4 = s4 + 1 else s2 = s2 + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("s2"); b = b + t:get("s4"); c = c + t:get("s5") end
  io.write(string.format("STATUS ok=%d 4xx=%d 5xx=%d\n", a, b, c))
end
