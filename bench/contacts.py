"""Benchmark of the contacts API: a 100,000-row CSV import beside PostgreSQL's own COPY of the same rows,
list and search latencies, two re-imports (the same file; the same phones with other names).

gunicorn runs ONE sync worker, so that the import's memory is that worker's: its VmRSS before the
upload and its peak (VmHWM) during each, from /proc. The reference: the imported rows, read back, are
COPYed into a scratch table like the real one (its columns, defaults, constraints and indexes, trigram
indexes included: `LIKE contacts_contact INCLUDING ALL`), committed, in the same run; and, for scale,
into one with the columns alone. Beside them, the health endpoint's rate in the same run. Prints one
JSON object. Settings from the environment: BENCH_CONTACT_ROWS (100000), BENCH_REQUESTS (300 per
list or search), BENCH_PORT (8932).
"""

import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from _harness import (
    PG,
    cpu_seconds,
    fresh_database,
    gunicorn,
    health_rate,
    manage,
    peak_memory_mb,
    platform_env,
    process_tree,
    psql,
    redis_flush,
)

DATABASE = "smsplatform_bench_contacts"
PORT = int(os.environ.get("BENCH_PORT", "8932"))
FIRST_NAMES = [
    "Tendai", "Rudo", "Tatenda", "Chipo", "Farai", "Nyasha", "Tafadzwa", "Kudakwashe", "Rumbidzai", "Tinashe",
    "Blessing", "Memory", "Takudzwa", "Ruvimbo", "Tanaka", "Simbarashe", "Nokuthula", "Sipho", "Thandeka", "Precious",
]  # fmt: skip
LAST_NAMES = [
    "Moyo", "Ncube", "Sibanda", "Dube", "Mpofu", "Ndlovu", "Chirwa", "Mutasa", "Chikwanha", "Mhlanga",
    "Nyathi", "Gumbo", "Marufu", "Zhou", "Mapfumo", "Chiwenga", "Makoni", "Banda", "Tshuma", "Mabhena",
]  # fmt: skip


def write_csv(path: Path, rows: int, *, names_seed: int = 42) -> None:
    """Zimbabwe mobile numbers as people type them (077…, 078…, 071…), all different, with names.

    The numbers are the same whatever `names_seed`; the names are drawn from it."""
    numbers = random.Random(42).sample(range(30_000_000), rows)
    names = random.Random(names_seed)
    with path.open("w", newline="") as file:
        file.write("phone,first_name,last_name\n")
        for n in numbers:
            prefix = ("077", "078", "071")[n // 10_000_000]
            file.write(f"{prefix}{n % 10_000_000:07d},{names.choice(FIRST_NAMES)},{names.choice(LAST_NAMES)}\n")


def request(api_key: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    headers = {"X-API-KEY": api_key}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    answer = json.loads(response.read() or b"{}")
    connection.close()
    return response.status, answer


def upload(api_key: str, path: str, csv_path: Path) -> tuple[int, dict]:
    """POST the file as multipart/form-data, streamed from disk (http.client sends it in chunks)."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="contacts.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
    connection.putrequest("POST", path)
    connection.putheader("X-API-KEY", api_key)
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + csv_path.stat().st_size + len(tail)))
    connection.endheaders()
    connection.send(head)
    with csv_path.open("rb") as file:
        while chunk := file.read(64 * 1024):
            connection.send(chunk)
    connection.send(tail)
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer


def latencies(api_key: str, paths: list[str]) -> dict:
    """Sequential requests, one connection each (a sync worker closes it anyway): p50/p99 in ms."""
    timings = []
    for path in paths:
        started = time.perf_counter()
        status, _ = request(api_key, "GET", path)
        timings.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
    percentiles = statistics.quantiles(timings, n=100, method="inclusive")
    return {
        "requests": len(timings),
        "p50_ms": round(percentiles[49], 1),
        "p99_ms": round(percentiles[98], 1),
        "max_ms": round(max(timings), 1),
    }


def rss_mb(pid: int) -> float:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024  # kB


def reset_peak(pid: int) -> bool:
    """Set VmHWM back to the current RSS (Linux 4.0+), so that the peak read later is the import's."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def backend_pid() -> int:
    """The PostgreSQL backend of the web worker's connection (kept open: DB_CONN_MAX_AGE below)."""
    (pid,) = psql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{DATABASE}' AND pid <> pg_backend_pid()").split()
    return int(pid)


def timed_import(api_key: str, group_id: str, csv_path: Path, worker: int) -> dict:
    """One import of the file into the group: seconds, CPU seconds of the web worker and of its PostgreSQL
    backend (on a busy machine, steadier than seconds), the answer's counts, the worker's memory."""
    backend = backend_pid()
    cpu_before = cpu_seconds(worker), cpu_seconds(backend)
    rss_before = rss_mb(worker)
    peak_reset = reset_peak(worker)
    started = time.perf_counter()
    status, answer = upload(api_key, f"/api/v1/contacts/import/?group_id={group_id}", csv_path)
    seconds = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"import answered {status}: {answer}")
    cpu = {"web_worker": cpu_seconds(worker) - cpu_before[0], "postgresql": cpu_seconds(backend) - cpu_before[1]}
    peak = peak_memory_mb([worker])[worker]
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": {name: round(value, 2) for name, value in cpu.items()},
        "rows_per_second": round((answer["created"] + answer["updated"] + answer["failed"]) / seconds),
        "answer": {key: answer[key] for key in ("created", "updated", "failed")},
        "worker_memory_mb": {
            "rss_before": round(rss_before, 1),
            "peak_during": peak,  # VmHWM, reset to the RSS just before the upload
            "rss_after": round(rss_mb(worker), 1),
            "growth": round(peak - rss_before, 1),
            "peak_measured_from_upload": peak_reset,
        },
    }


COLUMNS = "id, account_id, phone, first_name, last_name, opted_out, created_at, updated_at"
LIKE = "like_contacts_contact"  # the reference: a table like the real one


def copy_reference(database: str) -> dict:
    """Seconds (and CPU seconds of its backend) PostgreSQL takes to COPY the imported contacts, read back first
    as COPY's text, into a scratch table, committed: like contacts_contact with all its indexes, and with its
    columns alone."""
    dsn = f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{database}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        with connection.cursor().copy(f"COPY (SELECT {COLUMNS} FROM contacts_contact) TO STDOUT") as copy:
            data = b"".join(bytes(chunk) for chunk in copy)
        backend = connection.info.backend_pid
        seconds, cpu = {}, {}
        for name, like in ((LIKE, "INCLUDING ALL"), ("columns_only", "")):
            connection.execute("DROP TABLE IF EXISTS bench_copy_scratch")
            connection.execute(f"CREATE TABLE bench_copy_scratch (LIKE contacts_contact {like})")
            started, cpu_before = time.perf_counter(), cpu_seconds(backend)
            with (
                connection.transaction(),
                connection.cursor().copy(f"COPY bench_copy_scratch ({COLUMNS}) FROM STDIN") as copy,
            ):
                for start in range(0, len(data), 64 * 1024):
                    copy.write(data[start : start + 64 * 1024])
            seconds[name] = round(time.perf_counter() - started, 2)
            cpu[name] = round(cpu_seconds(backend) - cpu_before, 2)
        (indexes,) = connection.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'contacts_contact'"
        ).fetchone()
        connection.execute("DROP TABLE bench_copy_scratch")
    return {
        "rows_mb": round(len(data) / 2**20, 1),
        "seconds": seconds,
        "cpu_seconds_postgresql": cpu,
        "indexes_of_the_real_table": indexes,
    }


def main() -> dict:
    rows = int(os.environ.get("BENCH_CONTACT_ROWS", "100000"))
    count = int(os.environ.get("BENCH_REQUESTS", "300"))

    fresh_database(DATABASE)
    redis_flush()
    # The per-key limit is raised so that it measures the platform, not the limiter (which still runs).
    # The web worker keeps its database connection for the whole run (its backend's CPU is read).
    env = platform_env(DATABASE, API_RATE_LIMIT="1000000/s", DB_CONN_MAX_AGE="3600")
    manage(env, "migrate", "--no-input")
    api_key = manage(env, "createaccount", "Bench").splitlines()[-1]

    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "contacts.csv"
        write_csv(csv_path, rows)
        renamed_path = Path(folder) / "renamed.csv"
        write_csv(renamed_path, rows, names_seed=43)
        csv_bytes = csv_path.stat().st_size

        with gunicorn(env, port=PORT, workers=1, timeout=300) as master:
            worker = process_tree(master.pid)[1]
            # Warm-up: code imported, connections open, the key's lookup cached.
            status, group = request(api_key, "POST", "/api/v1/contacts/groups/", {"name": "Everyone"})
            assert status == 201, group
            request(api_key, "GET", "/api/v1/contacts/?search=0771")

            imported = timed_import(api_key, group["id"], csv_path, worker)
            contacts = int(psql("SELECT count(*) FROM contacts_contact", DATABASE))
            members = int(psql("SELECT count(*) FROM contacts_contact_groups", DATABASE))
            copy = copy_reference(DATABASE)

            randomizer = random.Random(7)
            pages = (rows + 49) // 50
            page_paths = [f"/api/v1/contacts/?page={randomizer.randint(1, pages)}" for _ in range(count)]
            results = {
                "list_random_page": latencies(api_key, page_paths),
                "list_first_page": latencies(api_key, ["/api/v1/contacts/"] * count),
                "search_0771": latencies(api_key, ["/api/v1/contacts/?search=0771"] * count),
                "search_Tendai": latencies(api_key, ["/api/v1/contacts/?search=Tendai"] * count),
                "group_filter": latencies(api_key, [f"/api/v1/contacts/?group_id={group['id']}"] * count),
            }
            # The same file again: every row exists and nothing changes. Then the same phones with names
            # drawn again: most contacts get a new name (those drawn the same keep theirs).
            reimported = timed_import(api_key, group["id"], csv_path, worker)
            renamed = timed_import(api_key, group["id"], renamed_path, worker)
            names_changed = int(psql("SELECT count(*) FROM contacts_contact WHERE updated_at > created_at", DATABASE))
            search_counts = {
                term: request(api_key, "GET", f"/api/v1/contacts/?search={term}")[1]["count"]
                for term in ("0771", "Tendai")
            }
            reference = health_rate(PORT)

    copy_seconds = copy["seconds"][LIKE]
    imported["consistency"] = {
        "contacts_in_database": contacts,
        "group_members_in_database": members,
        "all_imported": contacts == rows == members == imported["answer"]["created"],
    }
    renamed["names_changed_in_database"] = names_changed
    runs = (imported, reimported, renamed)
    peak = max(run["worker_memory_mb"]["peak_during"] for run in runs)
    growth = max(run["worker_memory_mb"]["growth"] for run in runs)
    return {
        "benchmark": "contacts",
        "web": {"server": "gunicorn", "worker_class": "sync", "workers": 1},
        "rows": rows,
        "csv_mb": round(csv_bytes / 2**20, 2),
        "import": imported,
        "reimport_same_file": reimported,
        "reimport_other_names": renamed,
        "copy_reference": copy,
        "import_over_copy": {
            "fresh": round(imported["seconds"] / copy_seconds, 2),
            "same_file": round(reimported["seconds"] / copy_seconds, 2),
            "other_names": round(renamed["seconds"] / copy_seconds, 2),
            "fresh_over_columns_only_copy": round(imported["seconds"] / copy["seconds"]["columns_only"], 1),
            "fresh_cpu": round(sum(imported["cpu_seconds"].values()) / copy["cpu_seconds_postgresql"][LIKE], 2),
        },
        "worker_peak_rss_mb": peak,
        "import_memory_mb": growth,  # the most an import added to the worker's RSS at rest
        "latency": results,
        "search_matches": search_counts,
        "health_reference": reference,
        "targets": {
            "import_within_3x_copy": imported["seconds"] <= 3 * copy_seconds,
            "import_memory_under_100_mb": growth < 100,
            # Django at rest holds 78-84 MB before any upload (78 with the image's packages, 84 in the dev
            # environment, where schemathesis brings requests, which DRF imports when it is there).
            "worker_peak_rss_under_100_mb": peak < 100,
            "list_and_search_p99_under_50_ms": all(result["p99_ms"] < 50 for result in results.values()),
        },
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
