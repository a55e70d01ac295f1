-- wrk script for bench/send.py: POST /api/v1/sms/send/ with varying recipients; counts statuses.
local counter = 0
local threads = {}

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

function init(args)
    created, refused, failed = 0, 0, 0
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

function response(status, headers, body)
    if status == 201 then
        created = created + 1
    elseif status == 402 or status == 429 then
        refused = refused + 1
    else
        failed = failed + 1
    end
end

function done(summary, latency, requests)
    local created_total, refused_total, failed_total = 0, 0, 0
    for _, thread in ipairs(threads) do
        created_total = created_total + thread:get("created")
        refused_total = refused_total + thread:get("refused")
        failed_total = failed_total + thread:get("failed")
    end
    io.write(string.format(
        'WRK_JSON {"requests": %d, "duration_us": %d, "created": %d, "refused": %d, "other_status": %d, '
        .. '"socket_errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
        summary.requests, summary.duration, created_total, refused_total, failed_total,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
