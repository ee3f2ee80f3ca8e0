"""schemathesis hooks for the admin API (named by SCHEMATHESIS_HOOKS): a component upload is
`application/wasm`, sent as the raw bytes generated for it, like application/octet-stream."""

import schemathesis

schemathesis.serializer.alias("application/wasm", "application/octet-stream")
