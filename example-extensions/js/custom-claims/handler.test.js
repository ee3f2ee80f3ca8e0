// Native tests: the handler under Node, the host played by the SDK's FakeHost.
import assert from "node:assert/strict";
import { test } from "node:test";

import { FakeHost, loadHandlers, runTokenIssuance } from "@keyhaven/extension/testing";

const { onTokenIssuance } = await loadHandlers(new URL("./handler.ts", import.meta.url));

test("copies org and roles and adds the fixed claim", async () => {
  const result = await runTokenIssuance(onTokenIssuance, { client: { id: "billing", attributes: { org: "acme", roles: ["reader"] } } });
  assert.equal(result.denied, undefined);
  assert.equal(result.accessToken.org, "acme");
  assert.deepEqual(result.accessToken.roles, ["reader"]);
  assert.equal(result.accessToken.issued_by_extension, "custom-claims-js");
  assert.equal(result.idToken.org, "acme");
});

test("the organisation's plan comes from the key-value store", async () => {
  const host = new FakeHost({ kv: { "org:acme": { plan: "gold" } } });
  const gold = await runTokenIssuance(onTokenIssuance, { client: { attributes: { org: "acme" } } }, host);
  assert.equal(gold.accessToken.plan, "gold");
  const other = await runTokenIssuance(onTokenIssuance, { client: { attributes: { org: "other" } } }, host);
  assert.equal(other.accessToken.plan, undefined);
});

test("roles default to an empty list", async () => {
  const result = await runTokenIssuance(onTokenIssuance, { client: { attributes: {} } });
  assert.deepEqual(result.accessToken.roles, []);
  assert.equal(result.accessToken.org, undefined);
});

test("suspended clients are denied, and the reason is logged", async () => {
  const result = await runTokenIssuance(onTokenIssuance, { client: { id: "c1", attributes: { suspended: true } } });
  assert.equal(result.denied, "this client is suspended");
  assert.deepEqual(result.log, [{ level: "warn", message: "refusing a token to suspended subject c1" }]);
});
