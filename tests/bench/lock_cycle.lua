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

function request()
  local idx = tid * per + (k % per)
  local path = "/v1/states/bench/cycle-" .. idx
  local id = string.format("00000000-0000-4000-8000-%012d", idx)
  local r
  if step == 0 then
    r = wrk.format("LOCK", path, hdr, lock_body(id))
  elseif step == 1 then
    serial = serial + 1
    local body = '{"version":4,"terraform_version":"1.11.4","serial":' .. serial ..
      ',"lineage":"bench-' .. idx .. '","outputs":{},"resources":[],"check_results":null}\n'
    r = wrk.format("POST", path .. "?ID=" .. id, hdr, body)
  else
    r = wrk.format("UNLOCK", path, hdr, lock_body(id))
    k = k + 1
  end
  step = (step + 1) % 3
  return r
end

function response(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end

function done(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + (t:get("errors") or 0) end
  io.write(string.format("non200 %d\n", e))
end
