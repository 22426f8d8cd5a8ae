"""Settings: one frozen object read from the environment (and an optional `.env`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
SERVED_LANGUAGES: tuple[str, ...] = ("fi", "en", "ar", "ru", "so", "sw")


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int_list(value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    return tuple(int(part) for part in value.replace(" ", "").split(",") if part)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, read once at start-up."""

    telegram_bot_token: str = ""
    telegram_api_base_url: str = ""
    database_url: str = f"sqlite:///{ROOT / 'aito.db'}"
    staff_chat_id: int | None = None
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    nlu_backend: str = "embedded"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    timezone: str = "Europe/Helsinki"
    content_dir: Path = ROOT / "content"
    flows_dir: Path = ROOT / "flows"
    nlu_data_dir: Path = ROOT / "nlu_data"
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "aito-bot")
    retention_days: int = 90
    log_level: str = "INFO"
    run_scheduler: bool = True
    translate_url: str = ""
    admin_telegram_ids: tuple[int, ...] = ()
    # Relayed messages of a closed ticket are deleted this many days after it closed (privacy).
    closed_ticket_retention_days: int = 30
    # Per-user flood control (per process): more than this many messages within the window get one
    # polite "slow down", the rest are dropped quietly until the window has passed.
    flood_messages: int = 100
    flood_seconds: float = 10.0
    # Telegram's overall sending limit (about 30 messages/s); raised only for benchmarks on a local server.
    send_messages_per_second: float = 30.0
    # /healthz and /metrics (Prometheus) on this port beside the bot; 0 = not served.
    health_port: int = 0
    # Booking: future bookings one family may hold; slots starting within the close hours are no longer
    # offered; the reminder goes this many hours before the meeting.
    booking_max_future: int = 2
    booking_close_hours: float = 12.0
    booking_reminder_hours: float = 24.0
    # Handoff: when counsellors answer (`mon-fri 08:00-16:00`), whose public holidays are days off (`FI`;
    # empty: none), extra local days off (`2026-12-28,2026-12-29`), minutes before an unclaimed request is
    # re-alerted, and the language of ticket cards in the staff group.
    office_hours: str = "mon-fri 08:00-16:00"
    public_holidays: str = "FI"
    holidays: str = ""
    handoff_realert_minutes: int = 15
    staff_language: str = "fi"

    @classmethod
    def from_env(cls, env_file: Path | None = None, **overrides: object) -> Settings:
        """Read settings from the process environment, with `.env` values as defaults."""
        file_values: dict[str, str | None] = {}
        path = env_file if env_file is not None else Path.cwd() / ".env"
        if path.is_file():
            file_values = dotenv_values(path)

        def get(name: str) -> str | None:
            value = os.environ.get(name)
            return value if value is not None else file_values.get(name)

        defaults = cls()
        staff = get("STAFF_CHAT_ID")
        public_holidays = get("PUBLIC_HOLIDAYS")  # set but empty: no public holidays, so not `or` the default
        values: dict[str, object] = {
            "telegram_bot_token": get("TELEGRAM_BOT_TOKEN") or "",
            "telegram_api_base_url": (get("TELEGRAM_API_BASE_URL") or "").rstrip("/"),
            "database_url": get("DATABASE_URL") or defaults.database_url,
            "staff_chat_id": int(staff) if staff else None,
            "webhook_url": get("WEBHOOK_URL") or "",
            "webhook_secret": get("WEBHOOK_SECRET") or "",
            "webhook_listen": get("WEBHOOK_LISTEN") or defaults.webhook_listen,
            "webhook_port": int(get("WEBHOOK_PORT") or defaults.webhook_port),
            "nlu_backend": (get("NLU_BACKEND") or "embedded").lower(),
            "rasa_url": (get("RASA_URL") or defaults.rasa_url).rstrip("/"),
            "rasa_token": get("RASA_TOKEN") or "",
            "timezone": get("TIMEZONE") or defaults.timezone,
            "cache_dir": Path(get("AITO_CACHE_DIR") or defaults.cache_dir),
            "content_dir": Path(get("AITO_CONTENT_DIR") or defaults.content_dir),
            "flows_dir": Path(get("AITO_FLOWS_DIR") or defaults.flows_dir),
            "nlu_data_dir": Path(get("AITO_NLU_DATA_DIR") or defaults.nlu_data_dir),
            "retention_days": int(get("RETENTION_DAYS") or defaults.retention_days),
            "log_level": (get("LOG_LEVEL") or defaults.log_level).upper(),
            "run_scheduler": _bool(get("RUN_SCHEDULER"), True),
            "translate_url": get("TRANSLATE_URL") or "",
            "admin_telegram_ids": _int_list(get("ADMIN_TELEGRAM_IDS")),
            "closed_ticket_retention_days": int(
                get("CLOSED_TICKET_RETENTION_DAYS") or defaults.closed_ticket_retention_days
            ),
            "flood_messages": int(get("FLOOD_MESSAGES") or defaults.flood_messages),
            "flood_seconds": float(get("FLOOD_SECONDS") or defaults.flood_seconds),
            "send_messages_per_second": float(get("SEND_MESSAGES_PER_SECOND") or defaults.send_messages_per_second),
            "health_port": int(get("HEALTH_PORT") or defaults.health_port),
            "booking_max_future": int(get("BOOKING_MAX_FUTURE") or defaults.booking_max_future),
            "booking_close_hours": float(get("BOOKING_CLOSE_HOURS") or defaults.booking_close_hours),
            "booking_reminder_hours": float(get("BOOKING_REMINDER_HOURS") or defaults.booking_reminder_hours),
            "office_hours": get("OFFICE_HOURS") or defaults.office_hours,
            "public_holidays": defaults.public_holidays if public_holidays is None else public_holidays,
            "holidays": get("HOLIDAYS") or "",
            "handoff_realert_minutes": int(get("HANDOFF_REALERT_MINUTES") or defaults.handoff_realert_minutes),
            "staff_language": get("STAFF_LANGUAGE") or defaults.staff_language,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
