"""Store: the one durable database of the dashboard.

SQLAlchemy 2 (Core, async) over SQLite (``aiosqlite``, the embedded default: a
file under ``var/``) or PostgreSQL (``asyncpg``, ``DATABASE_URL``: what a
cluster shares). Alembic migrations under ``migrations/`` are applied at
start-up and by ``burki-dashboard db upgrade``. Each kind of record has a small
typed repository (:mod:`.users`, :mod:`.tokens`, :mod:`.embeds`, :mod:`.audit`)
reached through one :class:`~webapp.store.store.Store`.

What it never holds: the Burki key, a password or token in clear, transcript
text that was not redacted. It may import the wire only.
"""
