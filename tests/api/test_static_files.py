"""`make run` with DEBUG off serves the dashboard and the API docs with their static files (hashed names that
only collectstatic writes)."""

import http.client
import os
import re

from tests.worker import ROOT, process_running, wait_until

from .test_gunicorn import free_port


def get(port: int, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def serving(port: int) -> bool:
    try:
        return get(port, "/api/v1/health/")[0] == 200
    except OSError:
        return False


def test_make_run_with_debug_off_serves_the_dashboard_and_the_docs_with_their_static_files(tmp_path):
    port = free_port()
    # bin/run as `make run DEBUG=false` runs it, embedded (SQLite, filesystem broker) in a folder of its own.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SMS_GATEWAYS")
    }
    env.update(DEBUG="false", SECRET_KEY="static-files-test", PORT=str(port), VAR_DIR=str(tmp_path),
               WEB_CONCURRENCY="1", WORKER_CONCURRENCY="1")  # fmt: skip
    with process_running([str(ROOT / "bin" / "run")], env=env, log_path=tmp_path / "run.log") as run:
        wait_until(lambda: serving(port), timeout=90, log=run.log_path)

        for page, asset in [("/admin/login/", r'href="(/static/admin/css/base\.\w+\.css)"'),
                            ("/api/v1/docs/", r'src="(/static/[^"]*swagger-ui-bundle\.\w+\.js)"')]:  # fmt: skip
            status, _, html = get(port, page)
            assert status == 200, (page, html[:300])
            [url] = re.findall(asset, html.decode())
            status, content_type, _ = get(port, url)
            assert (status, content_type.split(";")[0]) in [(200, "text/css"), (200, "text/javascript")], url
