// Native tests: the handler under Node, the host played by the SDK's FakeHost.
import assert from "node:assert/strict";
import { test } from "node:test";

import { FakeHost, runAccountCreation } from "@keyhaven/extension/testing";

import { onAccountCreation } from "./handler.js";

test("disposable and configured domains are denied", async () => {
  assert.match((await runAccountCreation(onAccountCreation, { username: "bob", email: "bob@mailinator.com" })).denied, /mailinator\.com/);
  assert.equal((await runAccountCreation(onAccountCreation, { username: "bob", email: "bob@corp.example" })).denied, undefined);
  const host = new FakeHost({ config: { blocked_domains: "corp.example, other.test" } });
  const denied = await runAccountCreation(onAccountCreation, { username: "bob", email: "bob@Corp.Example" }, host);
  assert.equal(denied.denied, "e-mail addresses at corp.example are not accepted");
});

test("an address without a domain is denied", async () => {
  assert.equal((await runAccountCreation(onAccountCreation, { username: "bob", email: "bob" })).denied, "the e-mail address has no domain");
});

test("what it lets through is normalised, and nothing else changes", async () => {
  const result = await runAccountCreation(onAccountCreation, {
    username: "  Alice ",
    email: "Alice@Example.COM",
    attributes: { name: "  Alice   Liddell ", team: "blue" },
  });
  assert.equal(result.denied, undefined);
  assert.deepEqual(result.changes, {
    username: "alice",
    email: "alice@example.com",
    attributes: { name: "Alice Liddell", team: "blue" },
  });
  const tidy = await runAccountCreation(onAccountCreation, { username: "carol", email: "carol@example.com" });
  assert.deepEqual(tidy.changes, {});
});
