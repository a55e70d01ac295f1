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

# Dependencies first, the exact versions and files of requirements.lock (`make lock` writes it from
# pyproject.toml): every build installs the same ones, and this layer is reused until they change.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# Then the project itself (its dependencies are already installed).
COPY . .
RUN pip install --no-deps . \
    && rm -rf build *.egg-info

# Hashed, compressed static files for whitenoise. VAR_DIR in /tmp: with no DATABASE_URL and no REDIS_URL
# the settings keep a generated SECRET_KEY and a broker folder there, thrown away with it.
RUN VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-var \
    && mkdir -p /app/var \
    && chown app:app /app/var

USER app

EXPOSE 8000

# Settings in gunicorn.conf.py (read from the working directory): port 8000, WEB_CONCURRENCY workers.
CMD ["gunicorn", "smsplatform.wsgi"]
