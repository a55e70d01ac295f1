-- wrk script for bench/send.py: POST /api/v1/sms/send/ with varying recipients. No response()
-- callback: parsing every answer in Lua would cost the load generator CPU the server needs; wrk
-- counts answers of status 400 and above itself (summary.errors.status).
local counter = 0
local threads = {}

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

function init(args)
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["X-API-KEY"] = os.getenv("BENCH_API_KEY")
end

function request()
    counter = counter + 1
    local to = string.format("07%d%07d", 7 + (id % 2), counter % 10000000)
    local body = '{"to": "' .. to .. '", "sender": "Bench", "message": "Your order 4711 is ready for collection."}'
    return wrk.format(nil, "/api/v1/sms/send/", nil, body)
end

function done(summary, latency, requests)
    io.write(string.format(
        'WRK_JSON {"requests": %d, "duration_us": %d, "error_status": %d, '
        .. '"socket_errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
        summary.requests, summary.duration, summary.errors.status,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
