-- POST a progress report, for each request, to the next job of a file of job ids, round robin.
-- Every report carries a new message, so every one is a real change that commits.
-- A run's SALT (any word) keeps its messages apart from those of earlier runs.
-- wrk -s bench/wrk/progress.lua http://127.0.0.1:PORT -- JOB_IDS_FILE SALT
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
require("report")

local jobs
local counter = 0
local salt = ""
local headers = { ["Content-Type"] = "application/json" }

function init(args)
   jobs = read_lines(args[1])
   salt = args[2] or ""
   counter = (thread_number or 1) * 7919
end

function request()
   counter = counter + 1
   local job = jobs[counter % #jobs + 1]
   local body = string.format('{"progress": %d, "message": "wrk %s %d-%d"}',
      50 + math.floor(counter / #jobs) % 50, salt, thread_number or 0, counter)
   return wrk.format("POST", "/v1/exports/" .. job .. "/progress", headers, body)
end

function done(summary, latency, requests)
   report(summary, latency)
end
