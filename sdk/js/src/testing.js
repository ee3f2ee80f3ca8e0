// Test helpers: run a handler under Node, natively, with the host's imports played by an
// in-memory `FakeHost` (configuration, secrets, the key-value store, the captured log).
// The inputs and results go through the same adapters the component uses, so what a test
// sees is what the host would receive.
//
//   import { runTokenIssuance } from "@keyhaven/extension/testing";
//   const result = await runTokenIssuance(onTokenIssuance, { client: { attributes: { org: "acme" } } });
//   assert.equal(result.accessToken.org, "acme");

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import * as esbuild from "esbuild";

import { capturedConsole } from "./api.js";
import { installFetch } from "./fetch.js";
import { bindHost } from "./host.js";
import * as hooks from "./hooks.js";

const SDK_INDEX = join(dirname(fileURLToPath(import.meta.url)), "index.js");

/**
 * The handlers a module exports, loaded under Node: TypeScript and npm dependencies are
 * bundled with esbuild first (as the build does), `@keyhaven/extension` stays this SDK.
 * `module` is a path or a `file:` URL.
 */
export async function loadHandlers(module) {
  const entry = module instanceof URL ? fileURLToPath(module) : module;
  const keepSdk = {
    name: "keyhaven-sdk",
    setup(build) {
      build.onResolve({ filter: /^@keyhaven\/extension$/ }, () => ({ path: SDK_INDEX, external: true }));
    },
  };
  const bundled = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    plugins: [keepSdk],
    logLevel: "silent",
    outfile: "handler.mjs",
  });
  const dir = await mkdtemp(join(tmpdir(), "keyhaven-handler-"));
  try {
    const file = join(dir, "handler.mjs");
    await writeFile(file, bundled.outputFiles[0].text);
    return await import(pathToFileURL(file).href);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Configuration, secrets and a key-value store in memory, the log lines written, and
 * outbound HTTP: `http(request)` answers each `fetch` the handler makes (`request` is
 * `{ method, url, headers: [[name, value]], body: Uint8Array | null, text() }`; return
 * `{ status, headers, body }` with `body` a string or bytes, or throw to fail it). Without
 * `http`, every request is refused, as a tenant with no allowed hosts refuses it.
 * `requests` lists what was sent.
 */
export class FakeHost {
  constructor({ config = {}, secrets = {}, kv = {}, http } = {}) {
    this.http = http;
    this.requests = [];
    this.config = new Map(Object.entries(config));
    this.secrets = new Map(Object.entries(secrets));
    this.kv = new Map(Object.entries(kv).map(([key, value]) => [key, JSON.stringify(value)]));
    /** `[{ level, message }]` */
    this.log = [];
  }

  /** The value stored under `key`, parsed, or `undefined`. */
  kvValue(key) {
    const text = this.kv.get(key);
    return text === undefined ? undefined : JSON.parse(text);
  }

  bindings() {
    return {
      log: (level, message) => this.log.push({ level, message }),
      config: (key) => this.config.get(key) ?? null,
      secret: (name) => this.secrets.get(name) ?? null,
      kvGet: (key) => {
        if (key === "") throw { tag: "invalid-key", val: "the key is empty" };
        return this.kv.get(key) ?? null;
      },
      kvSet: (key, value) => {
        if (key === "") throw { tag: "invalid-key", val: "the key is empty" };
        this.kv.set(key, value);
      },
      kvDelete: (key) => this.kv.delete(key),
      fetch: (request) => {
        const sent = { ...request, text: () => (request.body ? new TextDecoder().decode(request.body) : "") };
        this.requests.push(sent);
        if (typeof this.http !== "function") {
          throw { tag: "refused", val: `outbound HTTP to ${request.url} refused: not among the tenant's allowed hosts` };
        }
        let answer;
        try {
          answer = this.http(sent);
        } catch (error) {
          throw { tag: "failed", val: error instanceof Error ? error.message : String(error) };
        }
        const body = answer.body === undefined ? new Uint8Array() : typeof answer.body === "string" ? new TextEncoder().encode(answer.body) : answer.body;
        return { status: answer.status ?? 200, headers: Object.entries(answer.headers ?? {}), body };
      },
    };
  }
}

async function invoke(handler, prepared, host) {
  if (typeof handler !== "function") throw new TypeError("the handler must be a function");
  bindHost(host.bindings());
  const original = { console: globalThis.console, fetch: globalThis.fetch };
  globalThis.console = capturedConsole;
  installFetch(globalThis);
  let returned;
  try {
    returned = await handler(prepared.event, prepared.api);
  } catch (error) {
    return { thrown: error };
  } finally {
    globalThis.console = original.console;
    globalThis.fetch = original.fetch;
  }
  return { returned };
}

/** Settles what a prepared adapter makes of the run: its WIT value, or what it throws. */
function conclude(prepared, run) {
  try {
    return { value: "thrown" in run ? prepared.fail(run.thrown) : prepared.finish(run.returned) };
  } catch (error) {
    return { error };
  }
}

const TENANT = { id: "tenant-test", name: "test" };

function claimsObject(list) {
  return Object.fromEntries(list.map((claim) => [claim.name, JSON.parse(claim.value)]));
}

/**
 * Runs `onTokenIssuance`. `request`: `{ client: { id, name, attributes } }` or
 * `{ account: { id, username, attributes } }`, and `grantType`, `scopes`, `audience`.
 * Resolves to `{ denied, accessToken, idToken, scopes: { add, remove }, log, host }`; a
 * handler that throws rejects with its error (the host records an extension failure).
 */
export async function runTokenIssuance(handler, request = {}, host = new FakeHost()) {
  const subject = request.account
    ? { tag: "account", val: { accountId: request.account.id ?? "acc-test", username: request.account.username ?? "test", attributes: JSON.stringify(request.account.attributes ?? {}) } }
    : { tag: "client", val: { clientId: request.client?.id ?? "client-test", name: request.client?.name ?? "test client", attributes: JSON.stringify(request.client?.attributes ?? {}) } };
  const prepared = hooks.tokenIssuance({
    tenant: request.tenant ?? TENANT,
    subject,
    grantType: request.grantType ?? (request.account ? "authorization_code" : "client_credentials"),
    scopes: request.scopes ?? [],
    audience: request.audience ?? [],
  });
  const { value, error } = conclude(prepared, await invoke(handler, prepared, host));
  if (error !== undefined) throw error;
  return {
    denied: value.tag === "deny" ? value.val : undefined,
    accessToken: value.tag === "issue" ? claimsObject(value.val.accessToken) : {},
    idToken: value.tag === "issue" ? claimsObject(value.val.idToken) : {},
    scopes: { add: prepared.scopeChanges.add, remove: prepared.scopeChanges.suppress },
    log: host.log,
    host,
  };
}

/**
 * Runs `onOtpDelivery` with a message (`{ code, recipient, channel, purpose, ... }`).
 * Resolves to `{ delivered, messageId, rejected, unavailable, log, host }`.
 */
export async function runOtpDelivery(handler, message = {}, host = new FakeHost()) {
  const prepared = hooks.otpDelivery({
    tenant: message.tenant ?? TENANT,
    deliveryId: message.deliveryId ?? "otp-test",
    accountId: message.accountId ?? "acc-test",
    channel: message.channel ?? "sms",
    recipient: message.recipient ?? null,
    code: message.code ?? "123456",
    purpose: message.purpose ?? "login",
    expiresAt: message.expiresAt ?? Math.floor(Date.now() / 1000) + 300,
    locale: message.locale ?? null,
  });
  const { value, error } = conclude(prepared, await invoke(handler, prepared, host));
  const failure = error !== undefined && error !== null && typeof error === "object" && typeof error.tag === "string" ? error : undefined;
  if (error !== undefined && failure === undefined) throw error;
  return {
    delivered: failure === undefined,
    messageId: failure === undefined ? value ?? undefined : undefined,
    rejected: failure?.tag === "rejected" ? failure.val : undefined,
    unavailable: failure?.tag === "unavailable" ? failure.val : undefined,
    log: host.log,
    host,
  };
}

/**
 * Runs `onAccountCreation` with `{ username, email, phone, attributes }` (and `source`,
 * default `self-registration`). Resolves to `{ denied, changes, account, log, host }`:
 * `changes` lists what the handler changed, `account` is the account as it would be created.
 */
export async function runAccountCreation(handler, account = {}, host = new FakeHost(), source = "self-registration") {
  const data = {
    username: account.username ?? "test",
    email: account.email ?? null,
    phone: account.phone ?? null,
    attributes: JSON.stringify(account.attributes ?? {}),
  };
  const prepared = hooks.accountCreationBefore(account.tenant ?? TENANT, source, data);
  const { value, error } = conclude(prepared, await invoke(handler, prepared, host));
  if (error !== undefined) throw error;
  const changes = {};
  if (value.tag === "allow-with") {
    for (const [field, changed] of Object.entries(value.val)) {
      if (changed !== null) changes[field] = field === "attributes" ? JSON.parse(changed) : changed;
    }
  }
  return {
    denied: value.tag === "deny" ? value.val : undefined,
    changes,
    account: { ...prepared.event.account, ...changes },
    log: host.log,
    host,
  };
}

/** Runs `onAccountCreated`; resolves to `{ log, host }`. */
export async function runAccountCreated(handler, accountId = "acc-test", account = {}, host = new FakeHost(), source = "self-registration") {
  const data = { username: account.username ?? "test", email: account.email ?? null, phone: account.phone ?? null, attributes: JSON.stringify(account.attributes ?? {}) };
  const prepared = hooks.accountCreationAfter(account.tenant ?? TENANT, source, accountId, data);
  const { error } = conclude(prepared, await invoke(handler, prepared, host));
  if (error !== undefined) throw error;
  return { log: host.log, host };
}

/**
 * Runs `onEvent` with `{ id, action, category, detail, ... }`. Resolves to
 * `{ retry, log, host }`: `retry` is the reason when the handler asked for a redelivery.
 */
export async function runEvent(handler, event = {}, host = new FakeHost(), attempt = 1) {
  const prepared = hooks.events({
    tenant: event.tenant ?? TENANT,
    attempt,
    event: {
      id: event.id ?? "evt-test",
      time: event.time ?? Math.floor(Date.now() / 1000),
      category: event.category ?? "resource-change",
      action: event.action ?? "account.created",
      origin: event.origin ?? "admin-api",
      outcome: event.outcome ?? "success",
      reason: event.reason ?? null,
      accountId: event.accountId ?? null,
      detail: JSON.stringify(event.detail ?? {}),
    },
  });
  const { error } = conclude(prepared, await invoke(handler, prepared, host));
  return { retry: error, log: host.log, host };
}

/** Runs `onSchedule`; resolves to `{ failed, log, host }`. */
export async function runSchedule(handler, run = {}, host = new FakeHost()) {
  const prepared = hooks.scheduled({
    tenant: run.tenant ?? TENANT,
    runId: run.runId ?? "run-test",
    schedule: run.schedule ?? "0 0 * * *",
    scheduledAt: run.scheduledAt ?? Math.floor(Date.now() / 1000),
  });
  const { error } = conclude(prepared, await invoke(handler, prepared, host));
  return { failed: error, log: host.log, host };
}
