"""Forward-only schema migrations; the list index + 1 is the schema version."""

from __future__ import annotations

V1_FOUNDATION = """
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}',
    opted_out_at TEXT,
    optout_source TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    joinable INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX groups_name ON groups(name);
CREATE TABLE memberships (
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    added_at TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'import',
    PRIMARY KEY (group_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX memberships_contact ON memberships(contact_id);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_subject ON audit_log(subject);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""

V2_DISPATCH = """
CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    audience TEXT NOT NULL,
    message TEXT NOT NULL,
    body TEXT,
    sender_id TEXT,
    requested_by TEXT NOT NULL,
    send_at TEXT,
    expires_at TEXT,
    approvals_needed INTEGER NOT NULL,
    recipients INTEGER NOT NULL DEFAULT 0,
    preview TEXT NOT NULL DEFAULT '{}',
    paused_reason TEXT,
    chat_refs TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX broadcasts_state ON broadcasts(state);
CREATE TABLE approvals (
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id),
    person TEXT NOT NULL,
    decision TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (broadcast_id, person)
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    broadcast_id INTEGER REFERENCES broadcasts(id),
    contact_id INTEGER REFERENCES contacts(id),
    phone TEXT NOT NULL,
    text TEXT,
    segments INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    promo INTEGER NOT NULL DEFAULT 0,
    ignore_optout INTEGER NOT NULL DEFAULT 0,
    sender_id TEXT,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    gateway TEXT,
    batch_id TEXT,
    provider_id TEXT,
    provider_status TEXT,
    delivery_status TEXT,
    cost REAL,
    error TEXT,
    inbound_id INTEGER UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (broadcast_id, phone)
);
-- Partial indexes: a row leaves the queue indexes once, so sent rows cost nothing there.
CREATE INDEX outbox_ready ON outbox(priority, next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX outbox_queued ON outbox(broadcast_id, id) WHERE state = 'queued';
CREATE INDEX outbox_claimed ON outbox(batch_id) WHERE state = 'claimed';
CREATE INDEX outbox_inflight ON outbox(broadcast_id) WHERE state IN ('claimed', 'sending');
CREATE INDEX outbox_broadcast ON outbox(broadcast_id);
CREATE UNIQUE INDEX outbox_provider ON outbox(gateway, provider_id)
    WHERE provider_id IS NOT NULL;
CREATE INDEX outbox_contact ON outbox(contact_id, id);
CREATE TABLE send_journal (
    id INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL,
    gateway TEXT NOT NULL,
    broadcast_id INTEGER,
    outcome TEXT NOT NULL,
    next_batch_id TEXT,
    created_at TEXT NOT NULL
);
"""

V3_INBOUND = """
CREATE TABLE inbound (
    id INTEGER PRIMARY KEY,
    gateway TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    received_at TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    broadcast_id INTEGER REFERENCES broadcasts(id) ON DELETE SET NULL,
    action TEXT,
    language TEXT,
    outcome TEXT NOT NULL,
    link_id TEXT,
    read_at TEXT,
    UNIQUE (gateway, provider_id)
);
CREATE INDEX inbound_inbox ON inbound(id) WHERE outcome = 'inbox';
CREATE INDEX inbound_broadcast ON inbound(broadcast_id) WHERE broadcast_id IS NOT NULL;
CREATE INDEX outbox_replies ON outbox(phone, created_at) WHERE inbound_id IS NOT NULL;
"""

V4_MODEM_USAGE = """
CREATE TABLE modem_usage (
    modem_id TEXT NOT NULL,
    day TEXT NOT NULL,
    messages INTEGER NOT NULL DEFAULT 0,
    segments INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (modem_id, day)
) WITHOUT ROWID;
"""

# A long message some of whose parts never came (the modem gateway delivers what arrived).
V5_INBOUND_INCOMPLETE = """
ALTER TABLE inbound ADD COLUMN incomplete INTEGER NOT NULL DEFAULT 0;
"""

# One row: the server that may recover and dispatch on this database (storage.lease).
V6_INSTANCE_LEASE = """
CREATE TABLE instance_lease (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    instance TEXT NOT NULL,
    since TEXT NOT NULL,
    renewed_at TEXT NOT NULL
);
"""

MIGRATIONS: list[str] = [
    V1_FOUNDATION,
    V2_DISPATCH,
    V3_INBOUND,
    V4_MODEM_USAGE,
    V5_INBOUND_INCOMPLETE,
    V6_INSTANCE_LEASE,
]
