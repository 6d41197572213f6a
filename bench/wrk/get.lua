-- GET a path chosen at random, for each request, from a file of paths (one a line).
-- wrk -s bench/wrk/get.lua http://127.0.0.1:PORT -- PATHS_FILE
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
require("report")

local paths

function init(args)
   paths = read_lines(args[1])
   math.randomseed(os.time() * 1000 + (thread_number or 0))
end

function request()
   return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
   report(summary, latency)
end
