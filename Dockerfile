# E-Kengash Live: one image for the app replicas and the one-shot migration. It runs
# production settings (docs/operations.md "Production rules"), so it needs a secret key:
#   docker build -t e-kengash-live .
#   docker run --rm --env-file .env e-kengash-live kengash migrate
#   docker run --env-file .env -p 8000:8000 e-kengash-live   # kengash serve --host 0.0.0.0
# To try it with the demo: -e KENGASH_ENVIRONMENT=development -e KENGASH_DEMO=1.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in their own layer: a code change does not reinstall them.
# (Every dependency has a wheel for CPython 3.11 on Linux; nothing is compiled.)
COPY pyproject.toml README.md ./
RUN mkdir session_server voting \
 && touch session_server/__init__.py voting/__init__.py \
 && pip install . \
 && rm -rf session_server voting build *.egg-info

# The project itself. .dockerignore keeps out .venv, var/, tests, caches and secrets.
COPY . .
RUN pip install --no-deps . \
 && rm -rf build *.egg-info \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin kengash \
 && mkdir -p /app/var/hls \
 && chown -R kengash /app/var

# The pages in static/ are not inside the Python package: session_server/app.py finds
# them next to its own source directory. Importing session_server from /app (first on
# sys.path) keeps /app/static in reach; the installed copy provides the `kengash` command.
# Production unless told otherwise: the demo sign-in and `kengash demo` are refused, and
# KENGASH_SECRET_KEY must be set (32 bytes or more).
ENV PYTHONPATH=/app \
    KENGASH_ENVIRONMENT=production \
    KENGASH_HOST=0.0.0.0 \
    KENGASH_PORT=8000 \
    KENGASH_VAR_DIR=/app/var

USER kengash
EXPOSE 8000
CMD ["kengash", "serve", "--host", "0.0.0.0"]
