# Pinned to an exact Python release and Debian base. An operator can pin the digest too:
#   docker pull python:3.11.14-slim-bookworm
#   docker inspect --format '{{index .RepoDigests 0}}' python:3.11.14-slim-bookworm
# and write FROM python:3.11.14-slim-bookworm@sha256:<digest> (see docs/operations.md).
FROM python:3.11.14-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY bot ./bot
COPY flows ./flows
# Every runtime dependency at the version in requirements.lock (the dev tools stay out).
RUN pip install --no-cache-dir -c requirements.lock . \
    && useradd --create-home --uid 10001 reconnect \
    && mkdir -p /app/data && chown reconnect /app/data
USER reconnect
ENV BOT_DB_PATH=/app/data/bot.db
# Healthy: the database takes a write lock and Telegram was heard from in the last 3 minutes.
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "health"]
CMD ["python", "-m", "bot", "run"]
