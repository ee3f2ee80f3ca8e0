-- PostgreSQL mirror of migrations/sqlite/0009_token_roles.sql: personal access tokens get a
-- name and the tenant-viewer role (here the CHECK constraint is replaced in place).

ALTER TABLE personal_access_tokens DROP CONSTRAINT personal_access_tokens_role_check;
ALTER TABLE personal_access_tokens ADD CONSTRAINT personal_access_tokens_role_check
    CHECK (role IN ('operator', 'tenant-admin', 'tenant-viewer'));
ALTER TABLE personal_access_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
UPDATE personal_access_tokens
   SET name = CASE WHEN role = 'operator' THEN 'root' ELSE 'first administrator' END;
CREATE INDEX personal_access_tokens_by_tenant ON personal_access_tokens (tenant_id, created_at);
