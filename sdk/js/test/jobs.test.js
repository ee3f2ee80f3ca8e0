// The queued Promise the component uses: Promises/A+ ordering, drained by `settle`, and
// async functions as the build lowers them (esbuild, generators) settling within one call.
import assert from "node:assert/strict";
import { test } from "node:test";

import * as esbuild from "esbuild";

import { QueuedPromise, drain, settle } from "../src/jobs.js";

test("reactions run only when the queue is drained, in order", () => {
  const seen = [];
  const p = QueuedPromise.resolve(1);
  p.then((v) => seen.push(`a${v}`)).then(() => seen.push("c"));
  p.then((v) => seen.push(`b${v}`));
  seen.push("sync");
  assert.deepEqual(seen, ["sync"]);
  drain();
  assert.deepEqual(seen, ["sync", "a1", "b1", "c"]);
});

test("settle returns a fulfilled value, throws a rejection, and refuses a pending promise", () => {
  assert.equal(settle(QueuedPromise.resolve(1).then((v) => v + 1)), 2);
  assert.equal(settle(7), 7);
  assert.throws(() => settle(QueuedPromise.reject(new Error("no"))), /no/);
  assert.throws(() => settle(new QueuedPromise(() => {})), /did not settle/);
});

test("combinators: all, allSettled, any, race, finally", () => {
  const { resolve, promise } = QueuedPromise.withResolvers();
  const all = QueuedPromise.all([1, QueuedPromise.resolve(2), promise]);
  resolve(3);
  assert.deepEqual(settle(all), [1, 2, 3]);
  assert.deepEqual(settle(QueuedPromise.allSettled([QueuedPromise.reject("x"), 1])), [
    { status: "rejected", reason: "x" },
    { status: "fulfilled", value: 1 },
  ]);
  assert.equal(settle(QueuedPromise.any([QueuedPromise.reject(1), QueuedPromise.resolve(2)])), 2);
  assert.throws(() => settle(QueuedPromise.any([])), AggregateError);
  assert.equal(settle(QueuedPromise.race([new QueuedPromise(() => {}), QueuedPromise.resolve("r")])), "r");
  let cleaned = false;
  assert.equal(settle(QueuedPromise.resolve(5).finally(() => { cleaned = true; })), 5);
  assert.ok(cleaned);
  assert.deepEqual(settle(QueuedPromise.all([])), []);
});

test("thenables are adopted and a promise cannot resolve to itself", () => {
  const thenable = { then(resolve) { resolve("adopted"); } };
  assert.equal(settle(QueuedPromise.resolve(thenable)), "adopted");
  const { promise, resolve } = QueuedPromise.withResolvers();
  resolve(promise);
  assert.throws(() => settle(promise), TypeError);
});

test("an async handler lowered as the build lowers it settles within one call", async () => {
  const source = `
    export async function handler(input) {
      const doubled = await Promise.resolve(input * 2);
      const parts = await Promise.all([doubled, (async () => { await null; return 1; })()]);
      try { await Promise.reject(new Error("caught")); } catch (e) { parts.push(e.message); }
      return parts;
    }`;
  const { code } = await esbuild.transform(source, { format: "cjs", supported: { "async-await": false } });
  const module = { exports: {} };
  new Function("module", "exports", "Promise", code)(module, module.exports, QueuedPromise);
  assert.deepEqual(settle(module.exports.handler(21)), [42, 1, "caught"]);
});
