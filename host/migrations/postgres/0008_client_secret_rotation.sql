-- PostgreSQL mirror of migrations/sqlite/0008_client_secret_rotation.sql (integers BIGINT, blobs BYTEA).
-- Keyhaven schema, version 8: a machine client may have two active secrets while it
-- rotates: the current one and the previous one (both SHA-256 digests).

ALTER TABLE clients ADD COLUMN previous_secret_sha256 TEXT;
ALTER TABLE clients ADD COLUMN secret_created_at BIGINT;
UPDATE clients SET secret_created_at = created_at;
