"""Contacts and groups: the address book, E.164 numbers, and importing contact files."""

from bot.contacts.addressbook import AddressBook
from bot.contacts.importer import ContactImporter, ImportReport
from bot.contacts.phones import PhoneError, PhoneNormaliser

__all__ = ["AddressBook", "ContactImporter", "ImportReport", "PhoneError", "PhoneNormaliser"]
