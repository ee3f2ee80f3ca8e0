// Example Keyhaven extension in JavaScript: delivers one-time codes by SMS through an
// HTTP provider. It POSTs `{to, message, reference}` as JSON to the config setting
// `provider_url` with the secret `api_key` as a bearer token, and returns the provider's
// message id. The delivery id is the provider's idempotency reference, and nothing is
// retried: a failure is reported, and the person may ask for a new code. The same
// behaviour as the Rust `otp-sms` example. The provider's host must be among the tenant's
// allowed hosts.

// @ts-check
/** @typedef {import("@keyhaven/extension").OtpDeliveryEvent} OtpDeliveryEvent */
/** @typedef {import("@keyhaven/extension").OtpDeliveryApi} OtpDeliveryApi */

/** @param {OtpDeliveryEvent} event @param {OtpDeliveryApi} api */
export async function onOtpDelivery(event, api) {
  if (event.channel !== "sms") {
    api.delivery.reject("this extension delivers SMS only");
    return;
  }
  if (event.recipient === undefined) {
    api.delivery.reject("no phone number");
    return;
  }
  const url = api.config.get("provider_url");
  if (url === undefined) throw new Error("config provider_url is not set");
  const key = api.secrets.get("api_key");
  if (key === undefined) throw new Error("secret api_key is not set");

  const response = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({
      to: event.recipient,
      message: `Your ${event.tenant.name} code is ${event.code}`,
      reference: event.deliveryId,
    }),
  });
  if (response.status >= 400 && response.status < 500) {
    api.delivery.reject(`the provider refused the number (${response.status})`);
    return;
  }
  if (!response.ok) throw new Error(`the provider failed (${response.status})`);
  const answer = await response.json().catch(() => ({}));
  console.log(`code ${event.deliveryId} sent as ${answer.id}`);
  return { messageId: typeof answer.id === "string" ? answer.id : undefined };
}
