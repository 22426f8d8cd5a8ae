# aito-bot: the Telegram bot (webhook or polling) on a slim Python base, as a non-root user.
# tests/test_dockerfile.py lints this file and runs its install commands in a clean virtualenv.
FROM python:3.11-slim

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AITO_CACHE_DIR=/home/aito/.cache/aito-bot \
    AITO_CONTENT_DIR=/app/content \
    AITO_FLOWS_DIR=/app/flows \
    AITO_NLU_DATA_DIR=/app/nlu_data \
    WEBHOOK_PORT=8443 \
    HEALTH_PORT=8080

RUN useradd --create-home --uid 10001 aito
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir .

COPY content ./content
COPY flows ./flows
COPY nlu_data ./nlu_data

USER 10001
# Check the content and train the embedded NLU once at build time, so that a container answers at once.
RUN python -m bot content check && echo "hei" | python -m bot parse > /dev/null

EXPOSE 8443 8080

# /healthz answers 200 while the bot and its database work (bot/metrics.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['HEALTH_PORT'] + '/healthz', timeout=4)"]

CMD ["python", "-m", "bot", "run"]
