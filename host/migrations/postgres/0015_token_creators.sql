-- PostgreSQL mirror of migrations/sqlite/0015_token_creators.sql.
-- Keyhaven schema, version 15: a personal access token made by an administrator signed in
-- with a session names that administrator's account; it works only while the account is
-- usable and holds the admin permission.

ALTER TABLE personal_access_tokens ADD COLUMN created_by_account TEXT;
