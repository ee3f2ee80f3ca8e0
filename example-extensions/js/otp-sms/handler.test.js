// Native tests: the handler under Node, the host (configuration, secrets, the SMS
// provider) played by the SDK's FakeHost.
import assert from "node:assert/strict";
import { test } from "node:test";

import { FakeHost, runOtpDelivery } from "@keyhaven/extension/testing";

import { onOtpDelivery } from "./handler.js";

function provider(status) {
  return new FakeHost({
    config: { provider_url: "https://sms.example.com/v1/messages" },
    secrets: { api_key: "key-1" },
    http: () => ({ status, body: JSON.stringify({ id: "m-1" }) }),
  });
}

test("posts the code with the key and returns the message id", async () => {
  const host = provider(200);
  const result = await runOtpDelivery(onOtpDelivery, { code: "AB12CD", recipient: "+15550100", deliveryId: "dl-AB12CD" }, host);
  assert.equal(result.delivered, true);
  assert.equal(result.messageId, "m-1");
  assert.equal(host.requests.length, 1);
  const [sent] = host.requests;
  assert.equal(sent.method, "POST");
  assert.equal(sent.url, "https://sms.example.com/v1/messages");
  assert.ok(sent.headers.some(([name, value]) => name === "authorization" && value === "Bearer key-1"));
  const body = JSON.parse(sent.text());
  assert.equal(body.to, "+15550100");
  assert.equal(body.reference, "dl-AB12CD");
  assert.match(body.message, /AB12CD/);
});

test("provider errors are rejected or unavailable", async () => {
  const refused = await runOtpDelivery(onOtpDelivery, { recipient: "+1" }, provider(422));
  assert.match(refused.rejected, /refused the number \(422\)/);
  const down = await runOtpDelivery(onOtpDelivery, { recipient: "+1" }, provider(503));
  assert.equal(down.unavailable, "the provider failed (503)");
});

test("no number, another channel or no configuration sends nothing", async () => {
  const host = provider(200);
  assert.equal((await runOtpDelivery(onOtpDelivery, {}, host)).rejected, "no phone number");
  assert.equal((await runOtpDelivery(onOtpDelivery, { channel: "email", recipient: "a@example.com" }, host)).rejected, "this extension delivers SMS only");
  const unconfigured = await runOtpDelivery(onOtpDelivery, { recipient: "+1" }, new FakeHost());
  assert.equal(unconfigured.unavailable, "config provider_url is not set");
  assert.equal(host.requests.length, 0);
});

test("a host that is not allowed is refused, as the tenant's policy refuses it", async () => {
  const host = new FakeHost({ config: { provider_url: "https://sms.example.com/v1" }, secrets: { api_key: "k" } });
  const result = await runOtpDelivery(onOtpDelivery, { recipient: "+1" }, host);
  assert.match(result.unavailable, /not among the tenant's allowed hosts/);
});
