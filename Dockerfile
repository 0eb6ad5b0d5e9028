# syntax=docker/dockerfile:1.7
# One image for every ragtasks role; the command picks it:
#   ragtasks gateway | ragtasks worker summarizer|evaluator|alerter | ragtasks beat | ragtasks flower
ARG PYTHON_VERSION=3.11

# --- build: wheels for the dependencies (cached layer), then the project itself ----------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
RUN python -m venv /opt/ragtasks
ENV PATH=/opt/ragtasks/bin:$PATH
# Dependencies first, from pyproject.toml alone: this layer is reused until the dependencies change.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p.get('optional-dependencies', {}).get('flower', [])))" > /tmp/requirements.txt
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --upgrade pip==24.3.1 setuptools==75.6.0 wheel==0.45.1 \
    && pip install -r /tmp/requirements.txt
# Then the code: a normal (non-editable) install of the package and the `ragtasks` CLI.
# pip compiles the .pyc files here, since the root filesystem is read-only at run time.
COPY README.md ./
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps .

# --- runtime: the venv and the start-up script only; no compilers, no pip caches --------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="ragtasks" \
      org.opencontainers.image.description="ragtasks gateway, Celery workers, beat and Flower" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/ragtasks/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/ragtasks-metrics \
    RAGTASKS_GATEWAY_HOST=0.0.0.0 \
    RAGTASKS_ENVIRONMENT=production
# Production by default: an image started without configuration refuses the development secrets
# (dev key, guest:guest, placeholder passwords) instead of running with them. compose.yaml, `make run`
# and the tests ask for development explicitly.
RUN groupadd --system --gid 10001 ragtasks \
    && useradd --system --uid 10001 --gid ragtasks --home-dir /home/ragtasks --create-home \
       --shell /usr/sbin/nologin ragtasks
COPY --from=build /opt/ragtasks /opt/ragtasks
COPY --chmod=0755 scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER 10001:10001
WORKDIR /home/ragtasks
EXPOSE 8000 9101 9102 9103 9104 5555
# Answers for the gateway (the default command). Other roles override it: compose and the Helm
# chart give each worker its own check on its metrics port instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('RAGTASKS_HEALTHCHECK_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["gateway", "--host", "0.0.0.0", "--port", "8000"]
