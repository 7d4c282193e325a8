-- wrk script: each connection repeats LOCK -> POST ?ID= -> UNLOCK on its own states, the way one
-- terraform apply talks to stated. Run with as many threads as connections (-tN -cN) so each
-- thread's Lua state is one connection's state; thread i owns states i*per .. i*per+per-1.
-- Arguments: NTHREADS NSTATES "Authorization header value".
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(args[1])
  nstates = tonumber(args[2])
  auth = args[3]
  per = math.floor(nstates / nthreads)
  step, k, serial, errors = 0, 0, 0, 0
  hdr = { ["Authorization"] = auth, ["Content-Type"] = "application/json" }
end

local function lock_body(id)
  return '{"ID":"' .. id .. '","Operation":"OperationTypeApply","Info":"","Who":"bench@wrk",' ..
    '"Version":"1.11.4","Created":"2026-01-01T00:00:00Z","Path":""}'
end

-- The step advances only when an answer arrives: wrk calls request() once more than it sends
-- on the first thread (to inspect the request) and again after a reconnect, and neither may
-- skip a step of the cycle.
function request()
  local idx = tid * per + (k % per)
  local path = "/v1/states/bench/cycle-" .. idx
  local id = string.format("00000000-0000-4000-8000-%012d", idx)
  sent = ({ "LOCK", "POST", "UNLOCK" })[step + 1] .. " " .. idx
  if step == 0 then
    return wrk.format("LOCK", path, hdr, lock_body(id))
  elseif step == 1 then
    local body = '{"version":4,"terraform_version":"1.11.4","serial":' .. (serial + 1) ..
      ',"lineage":"bench-' .. idx .. '","outputs":{},"resources":[],"check_results":null}\n'
    return wrk.format("POST", path .. "?ID=" .. id, hdr, body)
  end
  return wrk.format("UNLOCK", path, hdr, lock_body(id))
end

function response(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
    statuses = (statuses or "") .. " " .. status .. " on " .. (sent or "?") .. ";"
  end
  if step == 1 then serial = serial + 1 end
  if step == 2 then k = k + 1 end
  step = (step + 1) % 3
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
