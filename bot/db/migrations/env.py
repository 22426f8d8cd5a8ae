"""Alembic environment: runs on the connection `Database.migrate` passes, or on the configured URL."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from bot.db import all_models  # noqa: F401  (registers every table on the metadata)
from bot.db.base import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            on_version_apply=config.attributes.get("on_version_apply"),  # Database.migrate: what it applied
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
