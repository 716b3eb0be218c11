-- wrk script of the bench's overload point (tests/bench/overload.py): POST the JSON bodies
-- of $BENCH_BODIES round-robin to $BENCH_PATH, count answers by status, and print one
-- summary line as JSON with wrk's transport errors apart (connect = refused, read and
-- write = reset, timeout = no answer within --timeout).
local path = os.getenv("BENCH_PATH")
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do
  if #line > 0 then bodies[#bodies + 1] = line end
end
local counter = 0
local headers = { ["Content-Type"] = "application/json" }
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, shed, other = 0, 0, 0
end

request = function()
  counter = counter + 1
  return wrk.format("POST", path, headers, bodies[(counter % #bodies) + 1])
end

response = function(status, headers, body)
  if status == 200 then ok = ok + 1 elseif status == 503 then shed = shed + 1
  else other = other + 1 end
end

done = function(summary, latency, requests)
  local n_ok, n_shed, n_other = 0, 0, 0
  for _, t in ipairs(threads) do
    n_ok = n_ok + t:get("ok")
    n_shed = n_shed + t:get("shed")
    n_other = n_other + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.6f,"ok":%d,"shed":%d,"other":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"p50_ms":%.4f,"p90_ms":%.4f,"p99_ms":%.4f,"max_ms":%.4f}\n',
    summary.requests, summary.duration / 1e6, n_ok, n_shed, n_other, e.connect, e.read,
    e.write, e.timeout, latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3))
end
