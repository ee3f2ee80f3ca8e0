-- Keyhaven schema, version 10: each tenant's scope catalogue (beside the built-in scopes,
-- which live in code): the score a session needs for a scope (step-up), and whether the
-- scope needs consent or a permission.

CREATE TABLE scopes (
    tenant_id            TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    value                TEXT NOT NULL,
    label                TEXT NOT NULL,
    required_score       INTEGER NOT NULL,
    consent_required     INTEGER NOT NULL DEFAULT 0,
    permission_required  INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, value)
);
