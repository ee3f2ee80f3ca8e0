-- Keyhaven schema, version 12: signing keys rotate. The current key is ENABLED; a retired
-- key is DISABLED and stays published (JWKS) until `published_until`, when every token it
-- signed has expired; then it is removed.

ALTER TABLE signing_keys ADD COLUMN published_until INTEGER;
