// The build: a handler module (TypeScript or JavaScript, with its npm dependencies) becomes
// a WebAssembly component against Keyhaven's WIT contract.
//
// 1. esbuild bundles the handler to learn which hooks it implements (`onTokenIssuance`,
//    ...), then bundles it again behind an entry module that binds the WIT imports and
//    re-exports the WIT interfaces, with `async`/`await` lowered so the SDK's queued
//    promises settle within a call (see jobs.js).
// 2. A world exporting exactly those hooks is written next to a copy of `wit/`.
// 3. componentize-qjs snapshots QuickJS with the bundle loaded (Wizer) into a component
//    using the synchronous component ABI, which the host runs like any other component.
// 4. A custom section `keyhaven:language` = `javascript` tells the host which plan
//    defaults (memory, fuel, size) apply.

import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile, copyFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";
import { componentize } from "componentize-qjs";

import { HANDLERS } from "./hooks.js";

const SDK_SOURCE = dirname(fileURLToPath(import.meta.url));
/** The repository's `wit/`, the contract's only definition. */
export const DEFAULT_WIT = resolve(SDK_SOURCE, "../../../wit");
export const LANGUAGE_SECTION = "keyhaven:language";

export class BuildError extends Error {
  constructor(message) {
    super(message);
    this.name = "BuildError";
  }
}

/** The contract's package version, read from `wit/` (`package keyhaven:extension@x.y.z;`). */
async function contractVersion(wit) {
  for (const file of (await readdir(wit)).filter((f) => f.endsWith(".wit")).sort()) {
    const match = /package\s+keyhaven:extension@([0-9]+\.[0-9]+\.[0-9]+)\s*;/.exec(await readFile(join(wit, file), "utf8"));
    if (match) return match[1];
  }
  throw new BuildError(`no \`package keyhaven:extension@x.y.z;\` in ${wit}`);
}

function esbuildMessages(error) {
  if (error && Array.isArray(error.errors) && error.errors.length > 0) {
    return error.errors
      .map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text))
      .join("\n");
  }
  return error instanceof Error ? error.message : String(error);
}

const LOWERED = { "async-await": false, "async-generator": false, "for-await": false };

/** The hook handlers a module exports, checked. */
async function handlersOf(entry) {
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      metafile: true,
      format: "esm",
      platform: "neutral",
      mainFields: ["module", "main"],
      supported: LOWERED,
      logLevel: "silent",
      outdir: "out",
    });
  } catch (error) {
    throw new BuildError(`cannot bundle ${entry}:\n${esbuildMessages(error)}`);
  }
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
  const exported = output ? output.exports : [];
  const unknown = exported.filter((name) => /^on[A-Z]/.test(name) && !(name in HANDLERS));
  if (unknown.length > 0) {
    throw new BuildError(`${entry} exports ${unknown.join(", ")}, which no hook calls; handlers are ${Object.keys(HANDLERS).join(", ")}`);
  }
  const handlers = exported.filter((name) => name in HANDLERS);
  if (handlers.length === 0) {
    throw new BuildError(`${entry} exports no handler; export one of ${Object.keys(HANDLERS).join(", ")}`);
  }
  return handlers;
}

function interfaceExport(name) {
  return name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

function entrySource(version, handlerModule, interfaces) {
  const lines = [
    `import { start } from ${JSON.stringify(join(SDK_SOURCE, "component.js"))};`,
    `import log from "keyhaven:extension/log@${version}";`,
    `import config from "keyhaven:extension/config@${version}";`,
    `import secrets from "keyhaven:extension/secrets@${version}";`,
    `import kv from "keyhaven:extension/kv@${version}";`,
    `import http from "keyhaven:extension/http@${version}";`,
    `import * as handlers from ${JSON.stringify(handlerModule)};`,
    `const exported = start(handlers, {`,
    `  log: (level, message) => log.log(level, message),`,
    `  config: (key) => config.get(key),`,
    `  secret: (name) => secrets.get(name),`,
    `  kvGet: (key) => kv.get(key),`,
    `  kvSet: (key, value) => kv.set(key, value),`,
    `  kvDelete: (key) => kv.delete(key),`,
    `  fetch: (request) => http.fetch(request),`,
    `});`,
  ];
  for (const name of interfaces) {
    lines.push(`export const ${interfaceExport(name)} = exported.${interfaceExport(name)};`);
  }
  return lines.join("\n") + "\n";
}

function leb128(value) {
  const bytes = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return Buffer.from(bytes);
}

/** A component with a custom section appended (custom sections may appear anywhere). */
export function withCustomSection(component, name, payload) {
  const nameBytes = Buffer.from(name, "utf8");
  const body = Buffer.concat([leb128(nameBytes.length), nameBytes, Buffer.from(payload, "utf8")]);
  return Buffer.concat([component, Buffer.from([0]), leb128(body.length), body]);
}

/**
 * Builds `entry` into a component at `output`.
 * Options: `wit` (default: the repository's `wit/`), `optSize` (the smaller, slower QuickJS
 * build), `minify`. Returns `{ output, bytes, handlers, world, sha256, milliseconds }`.
 */
export async function build({ entry, output, wit = DEFAULT_WIT, optSize = false, minify = false }) {
  const started = performance.now();
  entry = resolve(entry);
  try {
    await stat(entry);
  } catch {
    throw new BuildError(`no handler module at ${entry}`);
  }
  const version = await contractVersion(wit);
  const handlers = await handlersOf(entry);
  const interfaces = [...new Set(handlers.flatMap((h) => HANDLERS[h].exports))];

  const work = await mkdtemp(join(tmpdir(), "keyhaven-js-"));
  try {
    const witCopy = join(work, "wit");
    await mkdir(witCopy);
    for (const file of (await readdir(wit)).filter((f) => f.endsWith(".wit"))) {
      await copyFile(join(wit, file), join(witCopy, file));
    }
    const world = "javascript-extension";
    await writeFile(
      join(witCopy, "zz-javascript-extension.wit"),
      `package keyhaven:extension@${version};\n\nworld ${world} {\n    include imports;\n${interfaces.map((i) => `    export ${i};\n`).join("")}}\n`,
    );

    const entryFile = join(work, "entry.js");
    await writeFile(entryFile, entrySource(version, entry, interfaces));
    let bundled;
    try {
      bundled = await esbuild.build({
        entryPoints: [entryFile],
        bundle: true,
        write: false,
        format: "esm",
        platform: "neutral",
        mainFields: ["module", "main"],
        external: ["keyhaven:*"],
        // The handler's own `@keyhaven/extension` imports resolve to this SDK, whose host
        // binding the entry sets.
        alias: { "@keyhaven/extension": join(SDK_SOURCE, "index.js") },
        supported: LOWERED,
        minify,
        legalComments: "none",
        logLevel: "silent",
        outfile: "bundle.js",
      });
    } catch (error) {
      throw new BuildError(`cannot bundle ${entry}:\n${esbuildMessages(error)}`);
    }
    const source = bundled.outputFiles[0].text;

    let component;
    try {
      ({ component } = await componentize({ witPath: witCopy, jsSource: source, world, sync: true, optSize }));
    } catch (error) {
      throw new BuildError(`cannot make a component of ${basename(entry)}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const bytes = withCustomSection(component, LANGUAGE_SECTION, "javascript");
    await mkdir(dirname(resolve(output)), { recursive: true });
    await writeFile(output, bytes);
    return {
      output: resolve(output),
      bytes: bytes.length,
      handlers,
      world: interfaces,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      milliseconds: Math.round(performance.now() - started),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
