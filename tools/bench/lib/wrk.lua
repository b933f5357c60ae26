-- wrk script for the benchmarks: BENCH_METHOD (default POST) with the JSON body BENCH_BODY
-- (none when empty); at the end one line "BENCH_RESULT {json}": counts, errors by kind and the
-- latency distribution's percentiles in µs (wrk's own histogram, not a sample).
wrk.method = os.getenv("BENCH_METHOD") or "POST"
local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nBENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
