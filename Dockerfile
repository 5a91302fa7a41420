# Runyard server image: multi-stage, pinned slim base, non-root, read-only-root friendly
# (writes only to /data and /tmp). Build: docker build -t runyard:local .

# ---- build: install Runyard and its drivers into a virtual environment ----------------
FROM python:3.11.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/runyard
COPY pyproject.toml README.md ./
COPY src ./src
# Extras: MySQL/Aurora, PostgreSQL, AWS (S3, SQS, Secrets Manager), Redis. pip warns about
# and skips an extra the package does not declare.
RUN /opt/runyard/bin/pip install ".[mysql,postgres,aws,s3,redis]" \
 && /opt/runyard/bin/python -m compileall -q /opt/runyard/lib

# ---- runtime ---------------------------------------------------------------------------
FROM python:3.11.11-slim-bookworm

LABEL org.opencontainers.image.title="runyard" \
      org.opencontainers.image.description="Self-hosted experiment tracking for the unmodified wandb client" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 runyard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin runyard \
 && install -d -o 10001 -g 10001 -m 0750 /data

COPY --from=build /opt/runyard /opt/runyard

ENV PATH=/opt/runyard/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    TMPDIR=/tmp \
    RUNYARD_HOST=0.0.0.0 \
    RUNYARD_PORT=8080 \
    RUNYARD_DATA_DIR=/data

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# No curl in slim images: ask /healthz with the interpreter that is already there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('RUNYARD_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]

ENTRYPOINT ["runyard"]
CMD ["server"]
