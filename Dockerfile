# syntax=docker/dockerfile:1
# monitor's container image: the worker installed from this source tree, run as an unprivileged
# user. Build: `docker build -t monitor .`; run: `docker run -v monitor-data:/app/var monitor`.

# --- build: install the package and its dependencies into a self-contained virtualenv --------
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN python -m venv /opt/monitor
COPY . /src
# Runtime dependencies only: the dev extras (pytest, ruff, mypy...) stay out of the image.
RUN /opt/monitor/bin/pip install /src
# The story engine's reference word table, built once here rather than at every start (the
# runtime user's home is not writable).
ENV MONITOR_CACHE_DIR=/opt/monitor/cache
RUN /opt/monitor/bin/python -c "from monitor.stories.reference import stem_frequencies; stem_frequencies()"

# --- runtime ------------------------------------------------------------------------------------
FROM python:3.11-slim

# A fixed id (1000, the usual first user on a Linux host) keeps a bind-mounted ./inbox readable
# without chmod; pass --build-arg MONITOR_UID=... to match another host user.
ARG MONITOR_UID=1000
ARG MONITOR_GID=1000
RUN groupadd --gid "${MONITOR_GID}" monitor \
 && useradd --uid "${MONITOR_UID}" --gid monitor --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin monitor

COPY --from=build /opt/monitor /opt/monitor

ENV PATH=/opt/monitor/bin:$PATH \
    MONITOR_CACHE_DIR=/opt/monitor/cache \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MONITOR_CONFIG=/app/config/monitor.yaml

WORKDIR /app
# The shipped configurations (monitor.yaml polls the sample seeds/; docker.yaml polls /app/inbox
# and reads its secrets and DATABASE_URL from the environment) and the sample articles.
COPY config/ ./config/
COPY seeds/ ./seeds/
# Created here, owned by the runtime user, so fresh named volumes inherit that ownership.
RUN mkdir -p /app/var /app/inbox && chown monitor:monitor /app/var /app/inbox

USER monitor

# /app/var holds the SQLite database (relative URL sqlite:///var/monitor.db); /app/inbox is the
# drop folder config/docker.yaml reads.
VOLUME ["/app/var", "/app/inbox"]

# The worker serves /healthz (200: scheduler alive and database reachable, else 503) on the
# address given by MONITOR_HTTP; the image's command turns it on, and the check asks it.
ENV MONITOR_HTTP=127.0.0.1:9100
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://' + os.environ.get('MONITOR_HTTP', '127.0.0.1:9100').replace('0.0.0.0', '127.0.0.1') + '/healthz', timeout=4)"]

# The first SIGTERM lets running jobs finish; give the container time for it (compose: 30s).
STOPSIGNAL SIGTERM

ENTRYPOINT ["monitor"]
CMD ["run"]
