#!/usr/bin/env node
// Generates types/contract.d.ts from `wit/`: every interface of the contract as a
// TypeScript namespace, in the shapes a component built by keyhaven-js sees (records with
// camelCase fields, variants as `{ tag, val }`, enums as their case names, `option<T>` as
// `T | null`). `npm run types` writes it; `node bin/generate-types.mjs --check` fails when
// the committed file no longer matches `wit/` (the SDK's tests run it).
//
// The parser reads the subset of WIT the contract uses: interfaces, `use`, `type` aliases,
// records, variants, enums and functions, with `///` doc comments.

import { readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const WIT = resolve(here, "../../../wit");
const OUTPUT = resolve(here, "../types/contract.d.ts");

const camel = (name) => name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
const pascal = (name) => camel(name).replace(/^./, (c) => c.toUpperCase());

function tokenize(text) {
  const tokens = [];
  const pattern = /\/\/\/[^\n]*|\/\/[^\n]*|[A-Za-z_%][A-Za-z0-9_-]*|@[0-9.]+|->|[{}()<>,:;=.*_]|\s+|./g;
  for (const match of text.matchAll(pattern)) {
    const token = match[0];
    if (/^\s+$/.test(token) || (token.startsWith("//") && !token.startsWith("///"))) continue;
    tokens.push(token);
  }
  return tokens;
}

class Parser {
  constructor(tokens) {
    this.tokens = tokens;
    this.at = 0;
  }
  peek() { return this.tokens[this.at]; }
  next() { return this.tokens[this.at++]; }
  expect(token) {
    const got = this.next();
    if (got !== token) throw new Error(`expected ${token}, got ${got}`);
  }
  docs() {
    const lines = [];
    while (this.peek()?.startsWith("///")) lines.push(this.next().slice(3).trim());
    return lines;
  }
  type() {
    const name = this.next();
    if (["list", "option", "result", "tuple"].includes(name) && this.peek() === "<") {
      this.next();
      const args = [];
      while (this.peek() !== ">") {
        args.push(this.peek() === "_" ? (this.next(), null) : this.type());
        if (this.peek() === ",") this.next();
      }
      this.next();
      return { kind: name, args };
    }
    if (name === "result") return { kind: "result", args: [null, null] };
    return { kind: "named", name };
  }
  items(close) {
    const items = [];
    while (this.peek() !== close) {
      const docs = this.docs();
      if (this.peek() === close) break;
      items.push({ docs, ...this.item() });
      if (this.peek() === ",") this.next();
    }
    this.next();
    return items;
  }
}

function parseInterface(p) {
  const name = p.next();
  p.expect("{");
  const decls = [];
  while (p.peek() !== "}") {
    const docs = p.docs();
    const word = p.next();
    if (word === "use") {
      while (p.next() !== ";");
    } else if (word === "type") {
      const alias = p.next();
      p.expect("=");
      decls.push({ docs, kind: "alias", name: alias, type: p.type() });
      p.expect(";");
    } else if (word === "enum" || word === "record" || word === "variant") {
      const declName = p.next();
      p.expect("{");
      p.item = word === "record"
        ? () => { const field = p.next(); p.expect(":"); return { name: field, type: p.type() }; }
        : () => {
            const caseName = p.next();
            if (p.peek() !== "(") return { name: caseName };
            p.next();
            const type = p.type();
            p.expect(")");
            return { name: caseName, type };
          };
      decls.push({ docs, kind: word, name: declName, items: p.items("}") });
    } else {
      // name: func(params) -> result;
      p.expect(":");
      p.expect("func");
      p.expect("(");
      const params = [];
      while (p.peek() !== ")") {
        const param = p.next();
        p.expect(":");
        params.push({ name: param, type: p.type() });
        if (p.peek() === ",") p.next();
      }
      p.next();
      let result = null;
      if (p.peek() === "->") {
        p.next();
        result = p.type();
      }
      p.expect(";");
      decls.push({ docs, kind: "func", name: word, params, result });
    }
  }
  p.next();
  return { name, decls };
}

function parseFile(text) {
  const p = new Parser(tokenize(text));
  const interfaces = [];
  while (p.peek() !== undefined) {
    const docs = p.docs();
    const word = p.next();
    if (word === "package") {
      while (p.next() !== ";");
    } else if (word === "interface") {
      interfaces.push({ docs, ...parseInterface(p) });
    } else if (word === "world") {
      p.next();
      let depth = 0;
      do {
        const token = p.next();
        if (token === "{") depth++;
        if (token === "}") depth--;
      } while (depth > 0);
    }
  }
  return interfaces;
}

function ts(type, owner) {
  if (type === null) return "void";
  switch (type.kind) {
    case "list": return `${ts(type.args[0], owner)}[]`;
    case "option": return `${ts(type.args[0], owner)} | null`;
    case "result": return ts(type.args[0], owner);
    case "named": {
      const primitive = { string: "string", bool: "boolean", u8: "number", u16: "number", u32: "number", u64: "number", s32: "number", s64: "number", f32: "number", f64: "number" }[type.name];
      if (primitive) return primitive;
      const home = owner.get(type.name);
      return home ? `${home}.${pascal(type.name)}` : pascal(type.name);
    }
    default: return "unknown";
  }
}

function comment(docs, indent) {
  if (docs.length === 0) return "";
  return `${indent}/** ${docs.join(`\n${indent} * `)} */\n`;
}

function emit(interfaces) {
  // Where each type is declared, for `use`d names.
  const owner = new Map();
  for (const i of interfaces) for (const d of i.decls) if (d.kind !== "func") owner.set(d.name, pascal(i.name));
  let out = "// Generated from wit/ by `npm run types` (bin/generate-types.mjs): do not edit.\n";
  out += "// The contract's shapes as a keyhaven-js component sees them.\n";
  for (const i of [...interfaces].sort((a, b) => a.name.localeCompare(b.name))) {
    out += `\n${comment(i.docs, "")}export namespace ${pascal(i.name)} {\n`;
    for (const d of i.decls) {
      if (d.kind === "func") continue;
      out += comment(d.docs, "  ");
      if (d.kind === "alias") out += `  export type ${pascal(d.name)} = ${ts(d.type, owner)};\n`;
      if (d.kind === "enum") out += `  export type ${pascal(d.name)} = ${d.items.map((c) => JSON.stringify(c.name)).join(" | ")};\n`;
      if (d.kind === "record") {
        out += `  export interface ${pascal(d.name)} {\n`;
        for (const f of d.items) out += `${comment(f.docs, "    ")}    ${camel(f.name)}: ${ts(f.type, owner)};\n`;
        out += "  }\n";
      }
      if (d.kind === "variant") {
        const cases = d.items.map((c) => (c.type ? `{ tag: ${JSON.stringify(c.name)}; val: ${ts(c.type, owner)} }` : `{ tag: ${JSON.stringify(c.name)} }`));
        out += `  export type ${pascal(d.name)} =\n    | ${cases.join("\n    | ")};\n`;
      }
    }
    const funcs = i.decls.filter((d) => d.kind === "func");
    if (funcs.length > 0) {
      // An interface, not functions: WIT names such as `delete` are reserved words in TS.
      out += "  /** The interface's functions (imported by the component, or exported by it). */\n";
      out += "  export interface Functions {\n";
      for (const d of funcs) {
        const params = d.params.map((param) => `${camel(param.name)}: ${ts(param.type, owner)}`).join(", ");
        const error = d.result?.kind === "result" && d.result.args[1] ? [`Throws ${ts(d.result.args[1], owner)}.`] : [];
        out += comment([...d.docs, ...error], "    ");
        out += `    ${camel(d.name)}(${params}): ${ts(d.result, owner)};\n`;
      }
      out += "  }\n";
    }
    out += "}\n";
  }
  return out;
}

const files = (await readdir(WIT)).filter((f) => f.endsWith(".wit")).sort();
const interfaces = [];
for (const file of files) interfaces.push(...parseFile(await readFile(join(WIT, file), "utf8")));
const generated = emit(interfaces);
if (process.argv.includes("--check")) {
  const committed = await readFile(OUTPUT, "utf8").catch(() => "");
  if (committed !== generated) {
    console.error("types/contract.d.ts does not match wit/: run `npm run types` in sdk/js");
    process.exit(1);
  }
  console.log("types/contract.d.ts matches wit/");
} else {
  await writeFile(OUTPUT, generated);
  console.log(`wrote ${OUTPUT}`);
}
