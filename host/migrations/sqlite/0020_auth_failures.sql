-- Failed authentications by client address, per tenant (PRODUCT.md: an address failing
-- more than 300 times in 5 minutes is blocked for a while). Shared by every node, so the
-- count and the block hold across nodes. A row's window restarts once it is 5 minutes old.
CREATE TABLE auth_failures (
    tenant_id     TEXT NOT NULL,
    ip            TEXT NOT NULL,
    window_start  INTEGER NOT NULL,
    failures      INTEGER NOT NULL,
    blocked_until INTEGER,
    PRIMARY KEY (tenant_id, ip)
);

CREATE INDEX auth_failures_by_age ON auth_failures (window_start);
