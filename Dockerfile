# Steward's server image: `docker build -t steward .`, or `docker compose up` (compose.yaml).
# Configured by STEWARD_* variables only (docs/running.md); the image sets the container
# defaults below. Everything lives in the storage root, /var/lib/steward: mount a volume
# there (shared by every replica, as compose.yaml does) and use PostgreSQL for more than one.

# -- build: the project's wheel, then a virtual environment with it and the server extra --
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY common ./common
COPY policy ./policy
COPY catalog ./catalog
COPY registry ./registry
COPY steward ./steward
RUN pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/steward \
 && /opt/steward/bin/pip install "$(ls /dist/steward-*.whl)[server]"

# -- run: the slim base, the environment, an unprivileged user; no sources, no compilers --
FROM python:3.11-slim
ENV PATH=/opt/steward/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STEWARD_HOST=0.0.0.0 \
    STEWARD_PORT=8080 \
    STEWARD_STORAGE_ROOT=/var/lib/steward \
    STEWARD_LOG_FORMAT=json
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/steward --no-create-home \
        --shell /usr/sbin/nologin steward \
 && install -d -o steward -g steward -m 0700 /var/lib/steward
COPY --from=build /opt/steward /opt/steward
USER 10001:10001
WORKDIR /var/lib/steward
EXPOSE 8080
# No curl in the slim image: Python asks /health/ready (urlopen raises on a 503).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('STEWARD_PORT', '8080') + '/health/ready', timeout=2)"
ENTRYPOINT ["steward"]
# Host, port and the rest come from the environment (a flag here would override it).
CMD ["server"]
