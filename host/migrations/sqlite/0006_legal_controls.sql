-- Keyhaven schema, version 6: legal controls (documents with immutable versions) and
-- consents (an account's acceptance of a document's version; later, of scopes for a
-- client), persisted, revocable, optionally temporary.

CREATE TABLE legal_documents (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               TEXT NOT NULL,
    label            TEXT NOT NULL,
    current_version  INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('ENABLED', 'DISABLED')),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE legal_versions (
    tenant_id    TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    version      INTEGER NOT NULL,
    url          TEXT,
    text         TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, document_id, version),
    FOREIGN KEY (tenant_id, document_id) REFERENCES legal_documents (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE consents (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('legal', 'scope')),
    subject     TEXT NOT NULL,
    version     INTEGER,
    granted_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX consents_by_account ON consents (tenant_id, account_id, kind, subject);
