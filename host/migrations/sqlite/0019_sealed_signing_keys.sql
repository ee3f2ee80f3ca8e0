-- Signing keys sealed at rest under the node key (AES-256-GCM, `nonce.ciphertext`), bound
-- to their tenant and kid. The node key never enters the database, so SQL cannot seal the
-- keys already stored: each node does it at start (`jwt::keys::seal_stored`), in place, and
-- empties `private_der` of every sealed key.
ALTER TABLE signing_keys ADD COLUMN sealed_private TEXT;
