// Native tests of the port: the same cases the Lambda's tests would cover.
import assert from "node:assert/strict";
import { test } from "node:test";

import { runTokenIssuance } from "@keyhaven/extension/testing";

import { onTokenIssuance } from "./handler.js";

const account = (attributes) => ({ account: { id: "acc-1", username: "jane", attributes }, scopes: ["openid", "profile:write"] });

test("roles, department and the premium scope", async () => {
  const result = await runTokenIssuance(onTokenIssuance, account({ roles: "admin, billing", department: "finance", plan: "premium" }));
  assert.deepEqual(result.accessToken.roles, ["admin", "billing"]);
  assert.equal(result.idToken.department, "finance");
  assert.deepEqual(result.scopes, { add: ["reports:read"], remove: [] });
});

test("defaults: no roles, department none, no scope change", async () => {
  const result = await runTokenIssuance(onTokenIssuance, account({}));
  assert.deepEqual(result.accessToken.roles, []);
  assert.equal(result.idToken.department, "none");
  assert.deepEqual(result.scopes, { add: [], remove: [] });
});

test("banned users are refused and review removes profile:write", async () => {
  assert.equal((await runTokenIssuance(onTokenIssuance, account({ status: "banned" }))).denied, "this account is banned");
  assert.deepEqual((await runTokenIssuance(onTokenIssuance, account({ status: "review" }))).scopes.remove, ["profile:write"]);
});
