FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY flows ./flows
RUN pip install --no-cache-dir -e . \
    && useradd --create-home --uid 10001 reconnect \
    && mkdir -p /app/data && chown reconnect /app/data
USER reconnect
ENV BOT_DB_PATH=/app/data/bot.db
CMD ["python", "-m", "bot", "run"]
