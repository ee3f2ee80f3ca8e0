#!/usr/bin/env node
// keyhaven-js: build a JavaScript/TypeScript handler module into a Keyhaven extension
// component.
//
//   keyhaven-js build <handler.ts|js> [-o out.wasm] [--wit dir] [--opt-size] [--minify] [--json]

import { BuildError, build } from "../src/build.js";

const USAGE = "usage: keyhaven-js build <handler.ts|handler.js> [-o out.wasm] [--wit <dir>] [--opt-size] [--minify] [--json]";

function parse(argv) {
  const [command, ...rest] = argv;
  if (command !== "build") return null;
  const options = { optSize: false, minify: false, json: false };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === "-o" || arg === "--output") options.output = rest[++i];
    else if (arg === "--wit") options.wit = rest[++i];
    else if (arg === "--opt-size") options.optSize = true;
    else if (arg === "--minify") options.minify = true;
    else if (arg === "--json") options.json = true;
    else if (arg.startsWith("-")) return null;
    else if (options.entry === undefined) options.entry = arg;
    else return null;
  }
  if (options.entry === undefined) return null;
  options.output ??= options.entry.replace(/\.[cm]?[jt]s$/, "") + ".wasm";
  return options;
}

const options = parse(process.argv.slice(2));
if (options === null) {
  console.error(USAGE);
  process.exit(2);
}
try {
  const built = await build(options);
  if (options.json) {
    console.log(JSON.stringify(built));
  } else {
    console.log(`${built.output}: ${built.bytes} bytes, hooks ${built.world.join(", ")} (${built.handlers.join(", ")}), built in ${built.milliseconds} ms`);
  }
} catch (error) {
  console.error(error instanceof BuildError ? `keyhaven-js: ${error.message}` : error);
  process.exit(1);
}
