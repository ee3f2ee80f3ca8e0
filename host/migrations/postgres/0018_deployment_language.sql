-- Keyhaven schema, version 18: the language of each extension version, read from the
-- uploaded component (a `keyhaven:language` custom section, which the JavaScript build
-- writes). A JavaScript guest carries its engine, so its plan gives it more memory, fuel
-- and upload size than a component compiled straight to WebAssembly; every earlier
-- version is `compiled`.
ALTER TABLE extension_versions ADD COLUMN language TEXT NOT NULL DEFAULT 'compiled';
