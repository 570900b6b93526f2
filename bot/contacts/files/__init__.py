"""Contact-file readers: stream rows of names, raw phone numbers and groups out of a file.

Supported: CSV and text (.csv, .txt, .tsv), Excel (.xlsx, .xlsm), Word (.docx) and legacy Word
(.doc, through LibreOffice or antiword). Numbers are returned exactly as written; normalising
them is left to the importer.
"""

from __future__ import annotations

from bot.contacts.files.model import ContactFileError, ContactRow, ContactSource
from bot.contacts.files.reader import SUFFIXES, open_contacts, read_contacts

__all__ = [
    "SUFFIXES",
    "ContactFileError",
    "ContactRow",
    "ContactSource",
    "open_contacts",
    "read_contacts",
]
