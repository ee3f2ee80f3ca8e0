-- Keyhaven schema, version 7: leases, so that a periodic job runs on one node at a time
-- however many nodes share the database (taken and renewed by compare-and-set).

CREATE TABLE leases (
    name    TEXT PRIMARY KEY NOT NULL,
    holder  TEXT NOT NULL,
    until   INTEGER NOT NULL
);
