-- Shared by the wrk scripts of the benchmark: the result as one JSON line on stdout.
-- Times are microseconds; `status` counts answers of 400 and above.

function report(summary, latency)
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
      summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
      summary.errors.timeout))
end

function read_lines(path)
   local lines = {}
   for line in io.lines(path) do
      if #line > 0 then lines[#lines + 1] = line end
   end
   assert(#lines > 0, "no lines in " .. path)
   return lines
end

-- Each wrk thread has its own Lua state: number them, so that counters never collide.
local next_thread = 0

function setup(thread)
   next_thread = next_thread + 1
   thread:set("thread_number", next_thread)
end
