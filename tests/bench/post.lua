-- post.lua: wrk script for POST /api/generate/text-to-image.
--   BENCH_TOKENS  comma-separated API tokens; request k of a thread uses token k mod n, so with
--                 several tokens the per-user row locks of the enqueue statement are spread out
--   BENCH_PROMPT  the prompt (default "bench post")
-- Counts the answers by status per thread; done() prints "BENCH_STATUS code=count ..." too.
local report = dofile(os.getenv("BENCH_LUA_DIR") .. "/wrk-report.lua")

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

local reqs = {}
local next_req = 1
statuses = {}

function init(args)
	local prompt = os.getenv("BENCH_PROMPT") or "bench post"
	local body = '{"prompt":"' .. prompt .. '","numberOfImages":1,"aspectRatio":"1:1"}'
	for tok in string.gmatch(os.getenv("BENCH_TOKENS"), "[^,]+") do
		table.insert(reqs, wrk.format("POST", "/api/generate/text-to-image", {
			["Authorization"] = "Bearer " .. tok,
			["Content-Type"] = "application/json",
		}, body))
	end
	next_req = math.random(1, #reqs)
end

function request()
	local r = reqs[next_req]
	next_req = next_req % #reqs + 1
	return r
end

function response(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
	report.done(summary, latency, requests)
	local all = {}
	for _, t in ipairs(threads) do
		local s = t:get("statuses")
		for code, n in pairs(s) do
			all[code] = (all[code] or 0) + n
		end
	end
	local parts = {}
	for code, n in pairs(all) do
		table.insert(parts, string.format("%d=%d", code, n))
	end
	table.sort(parts)
	io.write("BENCH_STATUS " .. table.concat(parts, " ") .. "\n")
end
