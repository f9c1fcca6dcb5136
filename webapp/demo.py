"""The demo (``make run`` with no Burki key): two simulated organisations on the built-in
simulator, "Acme Support" and "Globex Sales", each with a key of its own, sealed in the
demo's store under a master key kept in ``var/`` (made there, 0600, on the first run)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import SecretStr

from webapp.orgs.book import OrgBook
from webapp.orgs.model import Org
from webapp.orgs.sealing import MasterKey, MasterKeyError
from webapp.settings import Settings
from webapp.simulator import Simulator
from webapp.store.store import open_store

log = logging.getLogger(__name__)

ORGS = (("acme", "Acme Support"), ("globex", "Globex Sales"))
MASTER_FILE = "master.key"


class Demo:
    """The demo's simulator and the settings that point the dashboard at it."""

    def __init__(self, settings: Settings) -> None:
        self.keys = {slug: secrets.token_urlsafe(24) for slug, _ in ORGS}
        self.simulator = Simulator(
            orgs=self.keys,
            seed=settings.demo_seed,
            speed=settings.demo_speed,
            oss_quirks=settings.demo_oss_quirks,
        )
        self.master = master_key(settings.dashboard_users_file.parent)
        self.settings = settings

    async def start(self) -> Settings:
        """Start the simulator, seal each organisation's key in the store; the settings the
        dashboard runs with (the demo's master key, no default organisation)."""
        await self.simulator.start(port=self.settings.demo_simulator_port)
        base = self.simulator.base_url
        store = await open_store(self.settings.store_url, self.settings.database_timeout)
        try:
            book = OrgBook(store.orgs, MasterKey.from_text(self.master))
            for slug, name in ORGS:
                await book.put(Org(slug, name, base), self.keys[slug])
        finally:
            await store.close()
        update = {"burki_base_url": base, "burki_master_key": SecretStr(self.master)}
        return self.settings.model_copy(update=update)

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no log line may show: each organisation's key and the master key."""
        return (*self.keys.values(), self.master)

    async def stop(self) -> None:
        await self.simulator.stop()


def master_key(folder: Path) -> str:
    """The demo's master key from ``folder/master.key``, made (0600) when there is none or
    it is not one (the demo seals its organisations' keys again at every start)."""
    path = folder / MASTER_FILE
    try:
        text = path.read_text().strip()
        MasterKey.from_text(text)
        return text
    except FileNotFoundError:
        pass
    except (OSError, MasterKeyError):
        log.warning("%s is not a master key: the demo makes a new one", path)
        path.unlink(missing_ok=True)
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    key = Fernet.generate_key().decode()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(key + "\n")
    return key
