-- PostgreSQL mirror of migrations/sqlite/0017_idempotency_keys.sql (integers BIGINT).
-- Keyhaven schema, version 17: idempotency keys of the admin API. A create (POST) or
-- update (PATCH) sent with an `Idempotency-Key` header claims the key for its caller (the
-- token or session that authenticated it); the answer is kept, sealed with the node key, and
-- given again to a retry of the same request for 24 hours, so a retried upload or tenant
-- creation does not happen twice. `status` is NULL while the first request is running;
-- `claim` names that request, so only it completes or releases the key. An answer that
-- could not be kept is an empty `response`.

CREATE TABLE idempotency_keys (
    caller       TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    claim        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    status       BIGINT,
    response     TEXT,
    PRIMARY KEY (caller, key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
