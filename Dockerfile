# aito-bot: the Telegram bot (webhook or polling) on a slim Python base, as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AITO_CACHE_DIR=/home/aito/.cache/aito-bot \
    AITO_CONTENT_DIR=/app/content \
    AITO_FLOWS_DIR=/app/flows \
    AITO_NLU_DATA_DIR=/app/nlu_data

RUN useradd --create-home --uid 10001 aito
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir .

COPY content ./content
COPY flows ./flows
COPY nlu_data ./nlu_data

USER aito
# Train the embedded NLU once at build time, so that a container starts answering at once.
RUN python -m bot content check && echo "hei" | python -m bot parse > /dev/null

EXPOSE 8443

CMD ["python", "-m", "bot", "run"]
