"""gunicorn's settings for `make run` (bin/run) and the image alike: gunicorn reads ./gunicorn.conf.py
from the directory it starts in, the project root in both. Options on the command line win."""

import os

bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads overlap a request's waits (PostgreSQL, Redis, a gateway) within one worker process. The worker
# answers in JSON also the requests gunicorn refuses before Django (a request line over 4094 bytes,
# more than 100 headers or one over 8190 bytes, garbage): gunicorn's default limits, far above any
# request of the API.
worker_class = "smsplatform.gunicorn_worker.JsonErrorThreadWorker"
threads = 4
accesslog = "-"
