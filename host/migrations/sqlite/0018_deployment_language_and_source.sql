-- Keyhaven schema, version 18: the language of each extension version, and the source of
-- versions uploaded as JavaScript or TypeScript.
--
-- `language` is read from the uploaded component (a `keyhaven:language` custom section,
-- which the JavaScript build writes): a JavaScript guest carries its engine, so its plan
-- gives it more memory, fuel and upload size than a component compiled straight to
-- WebAssembly. Every earlier version is `compiled`.
--
-- `source` and `source_type` (`javascript` or `typescript`) keep a handler uploaded as
-- source, to be shown and compared between versions; such a version's `component` is
-- empty until the node's JavaScript build has made it (the build then stores the
-- component, its size and its hash, and compiles it as any upload).
ALTER TABLE extension_versions ADD COLUMN language TEXT NOT NULL DEFAULT 'compiled';
ALTER TABLE extension_versions ADD COLUMN source TEXT;
ALTER TABLE extension_versions ADD COLUMN source_type TEXT;
