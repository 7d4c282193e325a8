-- wrk script for tests/bench/pg.sh: each connection alternates LOCK and UNLOCK on its own state,
-- one lock cycle per two requests. Run with as many threads as connections (-tN -cN) so each
-- thread's Lua state is one connection's: thread i owns state bench/pg-<run>-<i>, never
-- contended, as pgbench client i owns its row. Arguments: RUN "Authorization header value".
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  run = args[1]
  hdr = { ["Authorization"] = args[2], ["Content-Type"] = "application/json" }
  path = "/v1/states/bench/pg-" .. run .. "-" .. tid
  local id = string.format("00000000-0000-4000-8000-%012d", tid)
  body = '{"ID":"' .. id .. '","Operation":"OperationTypeApply","Info":"","Who":"bench@wrk",' ..
    '"Version":"1.11.4","Created":"2026-01-01T00:00:00Z","Path":""}'
  step, errors = 0, 0
end

function request()
  step = 1 - step
  return wrk.format(step == 1 and "LOCK" or "UNLOCK", path, hdr, body)
end

function response(status, headers, resp_body)
  if status ~= 200 then
    errors = errors + 1
    statuses = (statuses or "") .. " " .. status
  end
end

function done(summary, latency, requests)
  local e, codes = 0, ""
  for _, t in ipairs(threads) do
    e = e + (t:get("errors") or 0)
    codes = codes .. (t:get("statuses") or "")
  end
  io.write(string.format("non200 %d\n", e))
  if e > 0 then io.write("non200 statuses:" .. codes:sub(1, 200) .. "\n") end
end
