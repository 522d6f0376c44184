-- get.lua: wrk script for GET /api/generate/queue/:id with a bearer token.
--   BENCH_TOKEN  the API token        BENCH_GEN  the generation id
local report = dofile(os.getenv("BENCH_LUA_DIR") .. "/wrk-report.lua")

wrk.method = "GET"
wrk.path = "/api/generate/queue/" .. os.getenv("BENCH_GEN")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

done = report.done
