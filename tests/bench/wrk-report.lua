-- wrk-report.lua: the done() hook shared by the bench's wrk scripts: one line that run.sh parses.
--   BENCH requests=N duration_us=N non2xx=N errors=N p50_us=N p90_us=N p99_us=N max_us=N
local M = {}

function M.done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"BENCH requests=%d duration_us=%d non2xx=%d errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
		summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

return M
