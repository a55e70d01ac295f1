# Production image: gunicorn serves smsplatform.wsgi; the same image runs the Celery worker and
# beat and the migrations (see docker-compose.yml).
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=smsplatform.settings \
    WEB_CONCURRENCY=4

# A real home: gunicorn keeps its control socket under $HOME/.gunicorn.
RUN groupadd --system app && useradd --system --gid app --create-home --home-dir /home/app app

WORKDIR /app

# Dependencies first, read from pyproject.toml alone: this layer is reused until they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself (its dependencies are already installed).
COPY . .
RUN pip install --no-deps . \
    && rm -rf build *.egg-info

# Hashed, compressed static files for whitenoise. The settings refuse to load without a
# SECRET_KEY when DEBUG is off: a throwaway one for this step only, never in the image's ENV.
# VAR_DIR in /tmp: with no REDIS_URL the settings create a broker folder there.
RUN SECRET_KEY=collectstatic-build-only-not-a-secret VAR_DIR=/tmp/build-var \
        python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-var \
    && mkdir -p /app/var \
    && chown app:app /app/var

USER app

EXPOSE 8000

# gunicorn reads the worker count from WEB_CONCURRENCY itself.
CMD ["gunicorn", "smsplatform.wsgi", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--threads", "4", "--access-logfile", "-"]
