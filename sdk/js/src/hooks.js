// One adapter per hook: it turns the WIT call's arguments into the `event` and `api` a
// handler receives, and what the handler did (its `api` calls, its return value, what it
// threw) into the WIT result. The component's entry and the Node test helpers share these
// adapters, so a test under Node exercises the same conversions the component runs.
//
// Each adapter is `prepare(...witArguments) -> { event, api, finish(returned), fail(thrown) }`.

import { services } from "./api.js";
import { messageOf, parseObject, tenantOf, toJson } from "./values.js";

function claimSetter(list, which) {
  return {
    setCustomClaim(name, value) {
      if (typeof name !== "string" || name === "") {
        throw new TypeError(`${which}.setCustomClaim: the claim name must be a non-empty string`);
      }
      const json = toJson(`${which}.setCustomClaim(${JSON.stringify(name)})`, value);
      const existing = list.findIndex((claim) => claim.name === name);
      if (existing >= 0) list.splice(existing, 1);
      list.push({ name, value: json });
    },
  };
}

function denial() {
  const state = { reason: undefined };
  return {
    state,
    access: {
      deny(reason) {
        state.reason = reason === undefined ? "denied" : String(reason);
      },
    },
  };
}

/** Token issuance (`onTokenIssuance`): claims for the access and ID tokens, scope changes, deny. */
export function tokenIssuance(request) {
  const subject = request.subject;
  const client = subject.tag === "client"
    ? { id: subject.val.clientId, name: subject.val.name, attributes: parseObject(subject.val.attributes) }
    : undefined;
  const account = subject.tag === "account"
    ? { id: subject.val.accountId, username: subject.val.username, attributes: parseObject(subject.val.attributes) }
    : undefined;
  const event = {
    tenant: tenantOf(request.tenant),
    subject: client
      ? { type: "client", id: client.id, attributes: client.attributes }
      : { type: "account", id: account.id, attributes: account.attributes },
    client,
    account,
    grantType: request.grantType,
    scopes: [...request.scopes],
    audience: [...request.audience],
  };
  const accessToken = [];
  const idToken = [];
  const scopes = { add: [], suppress: [] };
  const { state, access } = denial();
  const api = {
    ...services(),
    accessToken: claimSetter(accessToken, "accessToken"),
    idToken: claimSetter(idToken, "idToken"),
    access,
    scopes: {
      add(scope) {
        const name = String(scope);
        scopes.suppress = scopes.suppress.filter((s) => s !== name);
        if (!scopes.add.includes(name)) scopes.add.push(name);
      },
      remove(scope) {
        const name = String(scope);
        scopes.add = scopes.add.filter((s) => s !== name);
        if (!scopes.suppress.includes(name)) scopes.suppress.push(name);
      },
    },
  };
  return {
    event,
    api,
    scopeChanges: scopes,
    finish() {
      if (state.reason !== undefined) return { tag: "deny", val: state.reason };
      return { tag: "issue", val: { accessToken, idToken } };
    },
    fail(error) {
      throw error;
    },
  };
}

/** OTP delivery (`onOtpDelivery`): returns the provider's message id, or rejects. */
export function otpDelivery(message) {
  const rejection = { reason: undefined };
  const event = {
    tenant: tenantOf(message.tenant),
    deliveryId: message.deliveryId,
    accountId: message.accountId,
    channel: message.channel,
    recipient: message.recipient ?? undefined,
    code: message.code,
    purpose: message.purpose,
    expiresAt: new Date(Number(message.expiresAt) * 1000),
    locale: message.locale ?? undefined,
  };
  const api = {
    ...services(),
    delivery: {
      /** This recipient cannot be reached on this channel; asking again will not help. */
      reject(reason) {
        rejection.reason = reason === undefined ? "rejected" : String(reason);
      },
    },
  };
  return {
    event,
    api,
    finish(returned) {
      if (rejection.reason !== undefined) throw { tag: "rejected", val: rejection.reason };
      const id = returned !== null && typeof returned === "object" ? returned.messageId : returned;
      return id === undefined || id === null ? null : String(id);
    },
    fail(error) {
      // The provider failed or could not be reached: the person may ask for a new code.
      throw { tag: "unavailable", val: messageOf(error) };
    },
  };
}

function accountOf(data) {
  return {
    username: data.username,
    email: data.email ?? undefined,
    phone: data.phone ?? undefined,
    attributes: parseObject(data.attributes),
  };
}

/** Account creation, before (`onAccountCreation`): allow, allow with changes, or deny. */
export function accountCreationBefore(tenant, source, data) {
  const { state, access } = denial();
  const changes = {};
  const event = { tenant: tenantOf(tenant), source, account: accountOf(data) };
  const attributes = () => {
    if (changes.attributes === undefined) changes.attributes = { ...event.account.attributes };
    return changes.attributes;
  };
  const api = {
    ...services(),
    access,
    account: {
      setUsername(username) { changes.username = String(username); },
      setEmail(email) { changes.email = String(email); },
      setPhone(phone) { changes.phone = String(phone); },
      setAttribute(name, value) { attributes()[String(name)] = value; },
      removeAttribute(name) { delete attributes()[String(name)]; },
    },
  };
  return {
    event,
    api,
    finish() {
      if (state.reason !== undefined) return { tag: "deny", val: state.reason };
      if (Object.keys(changes).length === 0) return { tag: "allow" };
      return {
        tag: "allow-with",
        val: {
          username: changes.username ?? null,
          email: changes.email ?? null,
          phone: changes.phone ?? null,
          attributes: changes.attributes === undefined ? null : toJson("account attributes", changes.attributes),
        },
      };
    },
    fail(error) {
      throw error;
    },
  };
}

/** Account creation, after (`onAccountCreated`): side effects only. */
export function accountCreationAfter(tenant, source, accountId, data) {
  return {
    event: { tenant: tenantOf(tenant), source, accountId, account: accountOf(data) },
    api: services(),
    finish() {},
    fail(error) {
      throw error;
    },
  };
}

/** Events (`onEvent`): a throw asks for a retry later. */
export function events(delivery) {
  const e = delivery.event;
  return {
    event: {
      tenant: tenantOf(delivery.tenant),
      attempt: delivery.attempt,
      id: e.id,
      time: new Date(Number(e.time) * 1000),
      category: e.category,
      action: e.action,
      origin: e.origin,
      outcome: e.outcome,
      reason: e.reason ?? undefined,
      accountId: e.accountId ?? undefined,
      detail: parseObject(e.detail),
    },
    api: services(),
    finish() {},
    fail(error) {
      throw messageOf(error);
    },
  };
}

/** Scheduled runs (`onSchedule`): a throw is recorded with the run. */
export function scheduled(run) {
  return {
    event: {
      tenant: tenantOf(run.tenant),
      runId: run.runId,
      schedule: run.schedule,
      scheduledAt: new Date(Number(run.scheduledAt) * 1000),
    },
    api: services(),
    finish() {},
    fail(error) {
      throw messageOf(error);
    },
  };
}

/** The handler names, the WIT export each implements, and the world that declares it. */
export const HANDLERS = {
  onTokenIssuance: { exports: ["token-issuance", "token-scopes"], world: "token-issuer" },
  onOtpDelivery: { exports: ["otp-delivery"], world: "otp-deliverer" },
  onAccountCreation: { exports: ["account-creation"], world: "account-creation-hook" },
  onAccountCreated: { exports: ["account-creation"], world: "account-creation-hook" },
  onEvent: { exports: ["events"], world: "event-handler" },
  onSchedule: { exports: ["scheduled"], world: "scheduled-job" },
};
