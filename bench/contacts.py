"""Benchmark of the contacts API: a 100,000-row CSV import, list and search latencies, a re-import.

gunicorn runs ONE sync worker, so that the import's memory is that worker's: its VmRSS before the
upload and its peak (VmHWM) after, from /proc. Prints one JSON object. Settings from the
environment: BENCH_CONTACT_ROWS (100000), BENCH_REQUESTS (300 per list or search), BENCH_PORT (8932).
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

from _harness import fresh_database, gunicorn, manage, platform_env, psql, redis_flush

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


def write_csv(path: Path, rows: int) -> None:
    """Zimbabwe mobile numbers as people type them (077…, 078…, 071…), all different, with names."""
    randomizer = random.Random(42)
    with path.open("w", newline="") as file:
        file.write("phone,first_name,last_name\n")
        for n in randomizer.sample(range(30_000_000), rows):
            prefix = ("077", "078", "071")[n // 10_000_000]
            file.write(
                f"{prefix}{n % 10_000_000:07d},{randomizer.choice(FIRST_NAMES)},{randomizer.choice(LAST_NAMES)}\n"
            )


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


def worker_pid(master_pid: int) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn has no worker")


def memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} for {pid}")


def reset_peak(pid: int) -> bool:
    """Set VmHWM back to the current RSS (Linux 4.0+), so that the peak read later is the import's."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def main() -> dict:
    rows = int(os.environ.get("BENCH_CONTACT_ROWS", "100000"))
    count = int(os.environ.get("BENCH_REQUESTS", "300"))

    fresh_database(DATABASE)
    redis_flush()
    # The per-key limit is raised so that it measures the platform, not the limiter (which still runs).
    env = platform_env(DATABASE, API_RATE_LIMIT="1000000/s")
    manage(env, "migrate", "--no-input")
    api_key = manage(env, "createaccount", "Bench").splitlines()[-1]

    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "contacts.csv"
        write_csv(csv_path, rows)
        csv_bytes = csv_path.stat().st_size

        with gunicorn(env, port=PORT, workers=1, timeout=300) as master:
            worker = worker_pid(master.pid)
            # Warm-up: code imported, connections open, the key's lookup cached.
            status, group = request(api_key, "POST", "/api/v1/contacts/groups/", {"name": "Everyone"})
            assert status == 201, group
            request(api_key, "GET", "/api/v1/contacts/?search=0771")
            rss_before = memory_mb(worker, "VmRSS")
            peak_reset = reset_peak(worker)

            started = time.perf_counter()
            status, imported = upload(api_key, f"/api/v1/contacts/import/?group_id={group['id']}", csv_path)
            import_seconds = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"import answered {status}: {imported}")
            peak_after = memory_mb(worker, "VmHWM")
            rss_after = memory_mb(worker, "VmRSS")

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
            # The same file again: every row exists, nothing changes (a SELECT per batch, no writes but
            # the memberships' ON CONFLICT DO NOTHING).
            started = time.perf_counter()
            status, reimported = upload(api_key, f"/api/v1/contacts/import/?group_id={group['id']}", csv_path)
            reimport_seconds = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"re-import answered {status}: {reimported}")
            search_counts = {
                term: request(api_key, "GET", f"/api/v1/contacts/?search={term}")[1]["count"]
                for term in ("0771", "Tendai")
            }

    contacts = int(psql("SELECT count(*) FROM contacts_contact", DATABASE))
    members = int(psql("SELECT count(*) FROM contacts_contact_groups", DATABASE))
    return {
        "benchmark": "contacts",
        "web": {"server": "gunicorn", "worker_class": "sync", "workers": 1},
        "import": {
            "rows": rows,
            "csv_mb": round(csv_bytes / 2**20, 2),
            "seconds": round(import_seconds, 2),
            "rows_per_second": round(rows / import_seconds),
            "answer": {key: imported[key] for key in ("created", "updated", "failed")},
            "worker_memory_mb": {
                "rss_before": round(rss_before, 1),
                "peak_during": round(peak_after, 1),
                "rss_after": round(rss_after, 1),
                "growth": round(peak_after - rss_before, 1),
                "peak_measured_from_upload": peak_reset,
            },
            "consistency": {
                "contacts_in_database": contacts,
                "group_members_in_database": members,
                "all_imported": contacts == rows == members == imported["created"],
            },
        },
        "reimport_same_file": {
            "seconds": round(reimport_seconds, 2),
            "answer": {key: reimported[key] for key in ("created", "updated", "failed")},
        },
        "latency": results,
        "search_matches": search_counts,
        "targets": {
            "import_under_10_s": import_seconds < 10,
            "memory_growth_under_100_mb": peak_after - rss_before < 100,
            "list_and_search_p99_under_50_ms": all(result["p99_ms"] < 50 for result in results.values()),
        },
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
