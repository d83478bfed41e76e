-- wrk script of bench_reports.py: POST /api/reports, a unique Idempotency-Key per request.
-- The references of acknowledged (201) reports are written, one per line, to
-- the file named by WF_ACKED (one file per run), so the bench can check every
-- acknowledged report is stored once.

local threads = {}
local counter = 1

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   prefix = (os.getenv("WF_KEY_PREFIX") or "bench") .. "-" .. id .. "-"
   n = 0
   acked = {}
   refused = {}
   wrk.method = "POST"
   wrk.path = "/api/reports"
   wrk.body = os.getenv("WF_BODY")
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   n = n + 1
   wrk.headers["Idempotency-Key"] = prefix .. n
   return wrk.format()
end

function response(status, headers, body)
   if status == 201 then
      local reference = body:match('"reference":"(%w+)"')
      if reference then
         acked[#acked + 1] = reference
      end
   else
      refused[status] = (refused[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local out = io.open(os.getenv("WF_ACKED"), "w")
   for _, thread in ipairs(threads) do
      local refs = thread:get("acked")
      for _, reference in ipairs(refs) do
         out:write(reference, "\n")
      end
   end
   out:close()
   local codes = {}
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("refused")) do
         codes[status] = (codes[status] or 0) + count
      end
   end
   local refused_text = ""
   for status, count in pairs(codes) do
      refused_text = refused_text .. " status_" .. status .. "=" .. count
   end
   io.write(string.format(
      "WRK requests=%d duration_us=%d p50_us=%d p99_us=%d connect_errors=%d read_errors=%d status_errors=%d timeouts=%d",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      summary.errors.connect, summary.errors.read, summary.errors.status, summary.errors.timeout)
      .. refused_text .. "\n")
end
