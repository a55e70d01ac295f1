"""Benchmark of the usage report and the messages list/export over 1,000,000 messages of one account.

In a database of its own: one INSERT … SELECT generate_series writes BENCH_REPORT_MESSAGES (1,000,000) messages
spread over the last 90 days (5 senders, a campaign a day taking 60 % of them, statuses as a day of traffic
leaves them), and 100,000 of another account; receipts then settle the last days' `sent` messages in a few
statements. Then it measures, and prints as one JSON object:

- `rollup`: the insert with its trigger, the compaction of what it wrote (beat's usage_compact), a full
  rebuild from the messages (`usage_rebuild`), and the compaction of 20,000 changes made one statement each;
- `report`: GET /api/v1/reports/usage/ through gunicorn (2 sync workers, one request at a time, a new
  connection each) for group_by day, sender and campaign over 30 and 90 days, BENCH_REQUESTS (200) each,
  p50/p99; once with the rollup compacted and once with 40,000 changes not yet folded (20,000 receipts);
  checked against a direct GROUP BY of the messages;
- `list` and `export`: the messages list's first page (with and without filters) and the 90 days' CSV export
  (its seconds, bytes and the web worker's peak memory);
- `trigger_cost`: what the triggers cost the writes: database time of single-row INSERTs and UPDATEs with them
  and without, and `POST /api/v1/sms/send/` under wrk (4 workers, 32 connections), alternating rounds with the
  triggers enabled and disabled;
- `reference`: the health endpoint's rate in the same run.

Settings from the environment: BENCH_REPORT_MESSAGES (1000000), BENCH_REQUESTS (200), BENCH_PORT (8933),
BENCH_SEND_SECONDS (8 per round; 0 skips the wrk rounds).
"""

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    PG,
    fresh_database,
    gunicorn,
    health_rate,
    manage,
    platform_env,
    psql,
    redis_flush,
    require,
)

DATABASE = "smsplatform_bench_reports"
PORT = int(os.environ.get("BENCH_PORT", "8933"))
SENDERS = ["Bench", "Alerts", "Promo", "OTPCodes", "News"]
DAYS = 90


def shell(env: dict, code: str) -> dict:
    """Run `code` in `manage.py shell` (Django set up, the bench's settings); it prints one JSON line."""
    output = manage(env, "shell", "-c", code)
    return json.loads(output.splitlines()[-1])


def generate(account_id: str, count: int, *, campaigns: bool) -> float:
    """`count` messages of the account over the last DAYS days, newest at now, in one statement; seconds."""
    senders = "ARRAY[" + ", ".join(f"'{name}'" for name in SENDERS) + "]"
    campaign = (
        f"CASE WHEN n % 10 < 6 THEN md5('{account_id}' || '-campaign-' || day)::uuid END" if campaigns else "NULL"
    )
    sql = f"""
        INSERT INTO messaging_message (id, account_id, campaign_id, contact_id, recipient, sender, text, encoding,
            segments, credits, status, error, error_code, gateway, attempts, next_attempt_at, created_at, sent_at,
            delivered_at, callback_url)
        SELECT gen_random_uuid(), '{account_id}', {campaign}, NULL, '+26377' || lpad((n % 10000000)::text, 7, '0'),
            CASE WHEN n % 10 < 6 THEN 'Promo' ELSE ({senders})[1 + n % 5] END, 'Your order 4711 is ready.', 'GSM-7',
            segments, segments, status, CASE WHEN status IN ('failed', 'undelivered') THEN 'Failed' ELSE '' END,
            '', 'default', 1, NULL, created_at, CASE WHEN status <> 'queued' AND status <> 'failed' THEN created_at END,
            CASE WHEN status IN ('delivered', 'undelivered') THEN created_at + interval '4 seconds' END, ''
        FROM (
            SELECT n, day, created_at, 1 + (n % 7 = 0)::int AS segments,
                CASE WHEN r < 84 THEN 'delivered' WHEN r < 89 THEN 'undelivered' WHEN r < 92 THEN 'failed'
                     WHEN r < 99 THEN 'sent' ELSE 'queued' END AS status
            FROM (
                SELECT n, (n::bigint * 7919) % 100 AS r, floor(n::float / {count} * {DAYS})::int AS day,
                    now() - (n::float / {count} * {DAYS}) * interval '1 day' AS created_at
                FROM generate_series(1, {count}) AS n
            ) AS raw
        ) AS s
    """
    started = time.perf_counter()
    psql(sql, DATABASE)
    return time.perf_counter() - started


def make_campaigns(account_id: str) -> None:
    psql(
        "INSERT INTO campaigns_campaign (id, account_id, name, message, sender_name, group_id, status, status_reason,"
        " scheduled_at, callback_url, estimated_credits, expected_recipients, credits_reserved, created_at,"
        " started_at, finished_at, last_batch_at, prepared_at)"
        f" SELECT md5('{account_id}' || '-campaign-' || day)::uuid, '{account_id}', 'Campaign ' || day, 'Hi',"
        " 'Promo', NULL, 'completed', '', NULL, '', 0, 0, 0, now() - day * interval '1 day', NULL, NULL, NULL,"
        " now() - day * interval '1 day'"
        f" FROM generate_series(0, {DAYS}) AS day",
        DATABASE,
    )


def request(api_key: str, path: str, *, accept: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
    headers = {"X-API-KEY": api_key} | ({"Accept": accept} if accept else {})
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def latencies(api_key: str, path: str, count: int) -> dict:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        status, body = request(api_key, path)
        timings.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:200]!r}")
    percentiles = statistics.quantiles(timings, n=100, method="inclusive")
    return {
        "requests": count,
        "p50_ms": round(percentiles[49], 1),
        "p99_ms": round(percentiles[98], 1),
        "max_ms": round(max(timings), 1),
    }


def report_latencies(api_key: str, today, count: int) -> dict:
    results = {}
    for days in (30, 90):
        since = (today - timedelta(days=days - 1)).isoformat()
        for group_by in ("day", "sender", "campaign"):
            path = f"/api/v1/reports/usage/?from={since}&to={today.isoformat()}&group_by={group_by}"
            results[f"{group_by}_{days}_days"] = latencies(api_key, path, count)
    return results


def direct_totals(account_id: str, since, until) -> dict:
    """The 90 days' counts by status, straight from the messages."""
    rows = psql(
        "SELECT status, count(*), sum(credits) FROM messaging_message"
        f" WHERE account_id = '{account_id}' AND (created_at AT TIME ZONE 'UTC')::date BETWEEN '{since}' AND '{until}'"
        " GROUP BY status",
        DATABASE,
    )
    return {status: (int(count), int(credits)) for status, count, credits in (row.split("|") for row in rows.split())}


def direct_group_by_ms(account_id: str, since, until, times: int = 5) -> dict:
    """What the report would cost without the rollup: the GROUP BY of the 90 days' messages, by day and status."""
    import psycopg

    sql = (
        "SELECT (created_at AT TIME ZONE 'UTC')::date, status, count(*), sum(segments), sum(credits)"
        " FROM messaging_message WHERE account_id = %s AND created_at >= %s AND created_at < %s GROUP BY 1, 2"
    )
    start = datetime.combine(since, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    timings = []
    dsn = f"host={PG['host']} port={PG['port']} user={PG['user']} dbname={DATABASE}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        for _ in range(times):
            started = time.perf_counter()
            connection.execute(sql, [account_id, start, end]).fetchall()
            timings.append((time.perf_counter() - started) * 1000)
    return {"runs": times, "median_ms": round(statistics.median(timings), 1), "min_ms": round(min(timings), 1)}


def worker_pids(master_pid: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()]


def memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {field} for {pid}")


def export(api_key: str, path: str, master_pid: int) -> dict:
    workers = worker_pids(master_pid)
    before = {pid: memory_mb(pid, "VmRSS") for pid in workers}
    for pid in workers:  # peak (VmHWM) from now on
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
    started = time.perf_counter()
    connection.request("GET", path, headers={"X-API-KEY": api_key})
    response = connection.getresponse()
    first_byte = time.perf_counter() - started
    size = lines = 0
    while chunk := response.read(1 << 16):
        size += len(chunk)
        lines += chunk.count(b"\r\n")
    seconds = time.perf_counter() - started
    connection.close()
    peaks = {pid: memory_mb(pid, "VmHWM") for pid in workers}
    growth = max(peaks[pid] - before[pid] for pid in workers)
    return {
        "status": response.status,
        "rows": lines - 1,
        "mb": round(size / 2**20, 1),
        "seconds": round(seconds, 2),
        "first_byte_ms": round(first_byte * 1000, 1),
        "rows_per_second": round((lines - 1) / seconds),
        "web_worker_rss_before_mb": max(before.values()),
        "web_worker_peak_growth_mb": round(growth, 1),
    }


def statement_cost(account_id: str, rounds: int = 10, size: int = 200) -> dict:
    """Median database time (µs) of one-row statements on messaging_message with the triggers and without, in
    alternating rounds; synchronous_commit off, so that it is the statement's work and not the disk's fsync."""
    import psycopg

    insert = (
        "INSERT INTO messaging_message (id, account_id, recipient, sender, text, encoding, segments, credits, status,"
        " error, error_code, gateway, attempts, created_at, callback_url) VALUES (%s, %s, '+263771234567', 'Bench',"
        " 'x', 'GSM-7', 1, 1, 'queued', '', '', '', 1, now(), '')"
    )
    statements = {
        "insert": insert,
        "status_update": "UPDATE messaging_message SET status = 'sent' WHERE id = %s AND status = 'queued'",
        "lease_update": "UPDATE messaging_message SET next_attempt_at = now() WHERE id = %s",
    }
    timings = {state: {name: [] for name in statements} for state in ("enabled", "disabled")}
    dsn = f"host={PG['host']} port={PG['port']} user={PG['user']} dbname={DATABASE}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("SET synchronous_commit = off")
        for _ in range(rounds):
            for state in timings:
                connection.execute(f"ALTER TABLE messaging_message {state[:-1].upper()} TRIGGER USER")
                ids = [uuid.uuid4() for _ in range(size)]
                for name, sql in statements.items():
                    for message_id in ids:
                        started = time.perf_counter()
                        connection.execute(sql, [message_id, account_id] if name == "insert" else [message_id])
                        timings[state][name].append(time.perf_counter() - started)
        connection.execute("ALTER TABLE messaging_message ENABLE TRIGGER USER")
        connection.execute("DELETE FROM messaging_message WHERE account_id = %s AND text = 'x'", [account_id])
    medians = {
        state: {name: round(statistics.median(values) * 1e6) for name, values in by_name.items()}
        for state, by_name in timings.items()
    }
    return {**medians, "added": {name: medians["enabled"][name] - medians["disabled"][name] for name in statements}}


def send_rates(env: dict, seconds: int) -> dict:
    """sends/s with the triggers enabled and disabled, alternating rounds, under wrk."""
    wrk = require("wrk")
    api_key = manage(env, "createaccount", "Sender", "--credits", "10000000", "--sender", "Bench").splitlines()[-1]
    rates = {"enabled": [], "disabled": []}

    def load(duration: int) -> float:
        output = subprocess.run(
            [wrk, "-t2", "-c32", f"-d{duration}s", "--timeout", "10s", "-s", "send.lua", f"http://127.0.0.1:{PORT}"],
            cwd=Path(__file__).parent, env={**os.environ, "BENCH_API_KEY": api_key}, capture_output=True, text=True,
            check=True,
        ).stdout  # fmt: skip
        run = json.loads(output.split("WRK_JSON ", 1)[1].splitlines()[0])
        return round((run["requests"] - run["error_status"]) / (run["duration_us"] / 1e6), 1)

    with gunicorn(env, port=PORT, workers=4):
        load(2)  # warm-up
        for _ in range(3):
            for state in ("enabled", "disabled"):
                psql(f"ALTER TABLE messaging_message {state[:-1].upper()} TRIGGER USER", DATABASE)
                rates[state].append(load(seconds))
        psql("ALTER TABLE messaging_message ENABLE TRIGGER USER", DATABASE)
        reference = health_rate(PORT)
    mean = {state: round(statistics.mean(values), 1) for state, values in rates.items()}
    return {
        "sends_per_second": rates,
        "mean": mean,
        "change_percent": round((mean["enabled"] - mean["disabled"]) / mean["disabled"] * 100, 1),
        "reference": reference,
    }


def main() -> dict:
    count = int(os.environ.get("BENCH_REPORT_MESSAGES", "1000000"))
    requests = int(os.environ.get("BENCH_REQUESTS", "200"))
    send_seconds = int(os.environ.get("BENCH_SEND_SECONDS", "8"))

    fresh_database(DATABASE)
    redis_flush()
    env = platform_env(DATABASE, API_RATE_LIMIT="1000000/s")
    manage(env, "migrate", "--no-input")
    api_key = manage(env, "createaccount", "Bench", "--sender", "Bench").splitlines()[-1]
    other_key = manage(env, "createaccount", "Other", "--sender", "Bench").splitlines()[-1]
    account_id = psql("SELECT id FROM accounts_account WHERE name = 'Bench'", DATABASE)
    other_id = psql("SELECT id FROM accounts_account WHERE name = 'Other'", DATABASE)

    make_campaigns(account_id)
    insert_seconds = generate(account_id, count, campaigns=True)
    generate(other_id, count // 10, campaigns=False)
    # Receipts: the last three days' messages still `sent` settle, in one statement a day.
    for day in range(3):
        psql(
            "UPDATE messaging_message SET status = CASE WHEN sent_at::time < '20:00' THEN 'delivered'"
            " ELSE 'undelivered' END, delivered_at = now() WHERE status = 'sent'"
            f" AND created_at >= now() - interval '{day + 1} days' AND created_at < now() - interval '{day} days'",
            DATABASE,
        )
    psql("VACUUM ANALYZE", DATABASE)
    changes_written = int(psql("SELECT count(*) FROM reports_usagechange", DATABASE))

    compact = "import json, time; from reports.services import usage_compact as c; t = time.perf_counter(); "
    compact += "n = c(); print(json.dumps({'changes': n, 'seconds': round(time.perf_counter() - t, 3)}))"
    first_compaction = shell(env, compact)
    rebuild = shell(
        env,
        "import json, time; from reports.services import usage_rebuild as r; t = time.perf_counter(); n = r(); "
        "print(json.dumps({'rows': n, 'seconds': round(time.perf_counter() - t, 2)}))",
    )
    rollup_rows = int(psql(f"SELECT count(*) FROM reports_dailyusage WHERE account_id = '{account_id}'", DATABASE))

    today = datetime.now(UTC).date()
    since = today - timedelta(days=DAYS - 1)
    with gunicorn(env, port=PORT, workers=2, timeout=600) as master:
        request(api_key, "/api/v1/reports/usage/")  # warm-up: imports, connections, the key's lookup cached
        request(other_key, "/api/v1/reports/usage/")
        reference = health_rate(PORT)
        compacted = report_latencies(api_key, today, requests)
        body = json.loads(request(api_key, f"/api/v1/reports/usage/?from={since}&to={today}")[1])
        direct = direct_totals(account_id, since, today)
        exact = all(body["totals"]["messages"][status] == direct.get(status, (0, 0))[0] for status in direct) and (
            body["totals"]["credits_charged"] == sum(credits for _, credits in direct.values())
        )

        # 20,000 receipts, one statement each (as a gateway's trickle arrives): 40,000 changes until compacted.
        psql(
            "DO $$ DECLARE m uuid; BEGIN FOR m IN SELECT id FROM messaging_message WHERE status = 'sent'"
            f" AND account_id = '{account_id}' LIMIT 20000 LOOP"
            " UPDATE messaging_message SET status = 'delivered', delivered_at = now() WHERE id = m; END LOOP; END $$",
            DATABASE,
        )
        pending = int(psql(f"SELECT count(*) FROM reports_usagechange WHERE account_id = '{account_id}'", DATABASE))
        with_pending = report_latencies(api_key, today, requests)
        body = json.loads(request(api_key, f"/api/v1/reports/usage/?from={since}&to={today}")[1])
        direct = direct_totals(account_id, since, today)
        exact_pending = all(body["totals"]["messages"][status] == direct.get(status, (0, 0))[0] for status in direct)
        second_compaction = shell(env, compact)

        listing = {
            "first_page": latencies(api_key, "/api/v1/sms/messages/", 50),
            "status_failed": latencies(api_key, "/api/v1/sms/messages/?status=failed", 50),
            "phone": latencies(api_key, "/api/v1/sms/messages/?phone=0770012345", 50),
            "one_day": latencies(api_key, f"/api/v1/sms/messages/?from={today}&to={today}", 50),
        }
        exported = export(api_key, f"/api/v1/sms/messages/?format=csv&from={since}&to={today}", master.pid)

    without_rollup = direct_group_by_ms(account_id, since, today)
    statements = statement_cost(account_id)
    sends = send_rates(env, send_seconds) if send_seconds else None

    return {
        "benchmark": "reports",
        "database": {"postgresql": psql("SHOW server_version", "postgres"), **PG},
        "web": {"server": "gunicorn", "worker_class": "sync", "workers": 2},
        "data": {
            "messages": count,
            "days": DAYS,
            "other_account_messages": count // 10,
            "rollup_rows_of_the_account": rollup_rows,
        },
        "rollup": {
            "insert_of_the_messages_seconds": round(insert_seconds, 2),
            "changes_written_by_the_insert_and_receipts": changes_written,
            "compaction_after_insert": first_compaction,
            "full_rebuild": rebuild,
            "changes_pending_after_20000_single_receipts": pending,
            "compaction_of_those": second_compaction,
        },
        "report": {
            "compacted": compacted,
            "with_40000_changes_pending": with_pending,
            "exact_against_direct_group_by": exact,
            "exact_with_changes_pending": exact_pending,
            "direct_group_by_of_the_messages_instead": without_rollup,
            "targets": {
                "p99_under_100_ms": all(
                    result["p99_ms"] < 100 for result in [*compacted.values(), *with_pending.values()]
                )
            },
        },
        "list": listing,
        "export_90_days_csv": exported,
        "trigger_cost": {"statement_database_time_us": statements, "send": sends},
        "reference": reference,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
