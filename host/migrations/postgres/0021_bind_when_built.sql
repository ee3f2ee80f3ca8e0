-- Whether a deployment's upload asked for its hooks to be bound once it is built, kept with
-- the deployment: a build a stopped or crashed node left PENDING, resumed by the next start,
-- binds as the upload asked.
ALTER TABLE extension_versions ADD COLUMN bind_when_built BIGINT NOT NULL DEFAULT 0;
