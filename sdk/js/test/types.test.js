// The SDK's types: generated from wit/ and up to date, and the examples type-check
// against them.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const sdk = fileURLToPath(new URL("..", import.meta.url));

test("types/contract.d.ts matches wit/", () => {
  execFileSync(process.execPath, ["bin/generate-types.mjs", "--check"], { cwd: sdk, stdio: "pipe" });
});

test("the examples type-check against the SDK's types", () => {
  const output = (() => {
    try {
      return execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { cwd: sdk, encoding: "utf8" });
    } catch (error) {
      return error.stdout + error.stderr;
    }
  })();
  assert.equal(output.trim(), "");
});
