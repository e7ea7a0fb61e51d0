"""Alembic environment: runs online against the URL set by ``flowllama.db.migrate``."""

from __future__ import annotations

from alembic import context

from flowllama.db.session import build_engine
from flowllama.db.tables import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "flowllama.db.migrate sets sqlalchemy.url"

connectable = config.attributes.get("connection")
if connectable is None:
    engine = build_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
else:
    context.configure(connection=connectable, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
