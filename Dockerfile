# syntax=docker/dockerfile:1
# slaengine: one image for workers, `slaengine dev pagerduty` and every other command.
# Build: docker build -t slaengine .   Run: docker compose up (docs/deployment.md).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/slaengine
ENV PATH=/opt/slaengine/bin:$PATH
WORKDIR /src
# Dependencies get their own layer, so a code change rebuilds in seconds.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && pip install --upgrade pip setuptools wheel \
    && pip install -r requirements.txt
COPY slaengine/ slaengine/
COPY streams/ streams/
COPY forecasting/ forecasting/
# slaengine/data/alert_rules and slaengine/data/templates link here; the wheel gets the files.
COPY alert_rules/ alert_rules/
COPY templates/ templates/
COPY README.md ./
RUN pip install --no-deps .

FROM python:3.11-slim
ARG SLAENGINE_UID=10001
RUN groupadd --system --gid "$SLAENGINE_UID" slaengine \
    && useradd --system --uid "$SLAENGINE_UID" --gid slaengine --home-dir /var/lib/slaengine \
        --shell /usr/sbin/nologin slaengine \
    && install -d -o slaengine -g slaengine -m 0750 /var/lib/slaengine
COPY --from=build /opt/slaengine /opt/slaengine
# templates/ and alert_rules/ are package data (slaengine/data/), installed with the wheel.
# /etc/slaengine holds the configs operators replace by mounting their own.
COPY slaengine/data/slo.yaml alert_rules/routing.yaml forecasting/data/capacity.yaml /etc/slaengine/
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/slaengine-entrypoint
ENV PATH=/opt/slaengine/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SLAENGINE_HTTP_HOST=0.0.0.0 \
    SLAENGINE_HTTP_PORT=8000 \
    SLAENGINE_DATA_DIR=/var/lib/slaengine \
    SLAENGINE_CONFIG=/etc/slaengine/slo.yaml \
    SLAENGINE_ROUTING_CONFIG=/etc/slaengine/routing.yaml \
    SLAENGINE_CAPACITY_CONFIG=/etc/slaengine/capacity.yaml
# Fail the build, not the first deploy, when the installed code cannot find its data files.
RUN python -c "from slaengine.report.styles import TEMPLATES_DIR as t; \
from slaengine.router.config import DEFAULT_ROUTING_FILE as r; \
from streams.evaluator import ALERT_RULES_DIR as a; \
assert (t / 'report_style.yaml').is_file() and r.is_file() and a.is_dir(), (t, r, a)" \
    && slaengine --help > /dev/null

USER slaengine
WORKDIR /var/lib/slaengine
# Local state (RocksDB tables, alert outbox, reports) is rebuilt from Kafka changelogs when lost.
VOLUME ["/var/lib/slaengine"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SLAENGINE_HTTP_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["slaengine-entrypoint"]
CMD ["worker"]
