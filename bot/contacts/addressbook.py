"""Core operations on contacts and groups that front ends call: opt-out, opt-in, groups."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from bot.clock import Clock
from bot.contacts.importer import check_label
from bot.contacts.phones import PhoneNormaliser
from bot.errors import NotFound, UserError
from storage import audit
from storage import contacts as store
from storage.db import Database


class AddressBook:
    """Contacts and groups, with every change audited."""

    def __init__(self, db: Database, phones: PhoneNormaliser, *, clock: Clock):
        self.db = db
        self.phones = phones
        self.clock = clock

    async def set_consent(
        self, number: str, *, opted_out: bool, source: str, actor: str, message: str = ""
    ) -> bool:
        """Opt a known number out or in; return whether it changed. Unknown numbers are errors."""
        phone = self.phones.normalise(number)
        async with self.db.transaction() as tx:
            changed = await store.set_opt_out(
                tx, phone, opted_out=opted_out, source=source, now=self.clock.now()
            )
            if changed is None:
                raise NotFound(f"no contact with number {phone}")
            if changed:
                await audit.record(
                    tx,
                    at=self.clock.now(),
                    actor=actor,
                    action="contact.optout" if opted_out else "contact.optin",
                    subject=phone,
                    source=source,
                    message=message,
                )
        return changed

    async def create_group(self, label: str, *, joinable: bool, actor: str) -> bool:
        """Create a group (or set its joinable flag); return True when new."""
        value = check_label(label)
        async with self.db.transaction() as tx:
            created = await store.create_group(tx, value, joinable=joinable, now=self.clock.now())
            await audit.record(
                tx,
                at=self.clock.now(),
                actor=actor,
                action="group.create" if created else "group.update",
                subject=value,
                joinable=joinable,
            )
        return created

    async def groups(self) -> list[store.Group]:
        """All groups with member counts."""
        async with self.db.read() as tx:
            return await store.list_groups(tx)

    async def contact(self, number: str) -> store.Contact | None:
        """One contact by any accepted number format."""
        phone = self.phones.normalise(number)
        async with self.db.read() as tx:
            return await store.get_contact(tx, phone)

    async def iter_contacts(
        self, *, group: str | None = None
    ) -> AsyncGenerator[store.Contact, None]:
        """Stream contacts, optionally of one existing group."""
        if group is not None:
            group = check_label(group)
            if group not in {g.label for g in await self.groups()}:
                raise UserError(f"no group {group}")
        async with (
            self.db.read() as tx,
            contextlib.aclosing(store.iter_contacts(tx, group=group)) as rows,
        ):
            async for contact in rows:  # closed here, inside the read, if the caller stops
                yield contact
