-- Keyhaven schema, version 9: personal access tokens get a name and the tenant-viewer role
-- (read-only). SQLite cannot change a CHECK constraint in place, so the table is rebuilt
-- (nothing references it); rows keep their ids, digests and states.

CREATE TABLE personal_access_tokens_v9 (
    id            TEXT PRIMARY KEY NOT NULL,
    tenant_id     TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('operator', 'tenant-admin', 'tenant-viewer')),
    name          TEXT NOT NULL DEFAULT '',
    token_sha256  TEXT NOT NULL UNIQUE,
    state         TEXT NOT NULL CHECK (state IN ('PENDING', 'ENABLED', 'DISABLED', 'LOCKED')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    CHECK ((role = 'operator') = (tenant_id IS NULL))
);
INSERT INTO personal_access_tokens_v9 (id, tenant_id, role, name, token_sha256, state, created_at, expires_at)
SELECT id, tenant_id, role, CASE WHEN role = 'operator' THEN 'root' ELSE 'first administrator' END,
       token_sha256, state, created_at, expires_at
FROM personal_access_tokens;
DROP TABLE personal_access_tokens;
ALTER TABLE personal_access_tokens_v9 RENAME TO personal_access_tokens;
CREATE INDEX personal_access_tokens_by_tenant ON personal_access_tokens (tenant_id, created_at);
