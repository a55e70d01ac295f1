"""Benchmark of what a campaign's requests do for 100,000 and 1,000,000 recipients: POST /campaigns/ (its
estimate: one grouping query, campaigns.services.campaign_estimate) and send/ (the estimate again, the
reservation, the first chunk of messages), under gunicorn on PostgreSQL, with templates of one placeholder and
of three. No worker runs: the rest of the preparation waits in the broker (bench/campaign.py measures it).

Beside them, in the same run: rendering and counting every recipient's message in Python, as the estimate and
send/ did before, and the health endpoint's rate. Prints one JSON object. BENCH_ESTIMATE_SIZES (100000,1000000)
changes the sizes.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    api,
    balance_and_ledger,
    fresh_database,
    gunicorn,
    health_rate,
    make_group,
    manage,
    platform_env,
    psql,
    redis_flush,
)

DATABASE = os.environ.get("BENCH_DATABASE", "smsplatform_bench_campaign_estimate")
PORT = int(os.environ.get("BENCH_PORT", "8933"))
TEMPLATES = {
    "one_placeholder": "Hi {name}, your order is ready.",
    "three_placeholders": "Hi {first_name} {last_name}, your order for {phone} is ready.",
}
# What the estimate replaced: every recipient's message rendered and counted.
RENDER_EVERY_RECIPIENT = """
import time
from campaigns.personalise import Recipient, template_render
from contacts.models import Contact
from messaging.segments import segment_count
started = time.monotonic()
credits = sum(
    segment_count(template_render({template!r}, Recipient(first, last, phone))).segments
    for phone, first, last in Contact.objects.filter(groups={group_id!r}, opted_out=False)
    .values_list("phone", "first_name", "last_name").iterator(chunk_size=5000)
)
print(credits, time.monotonic() - started)
"""


def timed(key: str, method: str, path: str, body: dict | None = None) -> tuple[dict, float]:
    """The API's answer and the request's seconds."""
    started = time.monotonic()
    answer = api(PORT, key, method, path, body)
    return answer, round(time.monotonic() - started, 3)


def run_size(env: dict, key: str, account_id: str, size: int, offset: int) -> dict:
    group_id = make_group(DATABASE, account_id, size, offset)
    runs = {}
    for name, template in TEMPLATES.items():
        body = {"name": f"{name} {size}", "message": template, "sender_name": "Bench", "group_id": group_id}
        campaign, create_seconds = timed(key, "POST", "/api/v1/campaigns/", body)
        sent, send_seconds = timed(key, "POST", f"/api/v1/campaigns/{campaign['id']}/send/")
        code = RENDER_EVERY_RECIPIENT.format(template=template, group_id=group_id)
        credits, render_seconds = manage(env, "shell", "-c", code).split()[-2:]
        runs[name] = {
            "create_request_seconds": create_seconds,
            "send_request_seconds": send_seconds,
            "estimated_credits": campaign["estimated_credits"],
            "estimate_exact": campaign["estimated_credits"] == int(credits),
            "send_answer": {"status": sent["status"], "preparation": sent["preparation"]},
            "render_every_recipient_seconds": round(float(render_seconds), 3),
        }
    return {"recipients": size, **runs}


def main() -> dict:
    sizes = [int(size) for size in os.environ.get("BENCH_ESTIMATE_SIZES", "100000,1000000").split(",")]
    fresh_database(DATABASE)
    redis_flush()
    env = platform_env(DATABASE, API_RATE_LIMIT="1000000/s")
    manage(env, "migrate", "--no-input")
    credits = sum(sizes) * len(TEMPLATES) * 2
    key = manage(env, "createaccount", "Bench", "--credits", str(credits), "--sender", "Bench").splitlines()[-1]
    account_id = psql("SELECT id FROM accounts_account WHERE name = 'Bench'", DATABASE)
    with gunicorn(env, port=PORT, workers=1, timeout=600):
        reference = health_rate(PORT)
        # Each size's phones after the last one's: +26377 and 7 digits.
        runs = [run_size(env, key, account_id, size, offset=sum(sizes[:index])) for index, size in enumerate(sizes)]
    balance, ledger = balance_and_ledger(DATABASE)
    return {
        "benchmark": "campaign_estimate",
        "runs": runs,
        "consistency": {"balance_equals_ledger": balance == ledger},
        "reference": reference,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
