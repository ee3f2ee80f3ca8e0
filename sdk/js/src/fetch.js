// `fetch` inside a component: the WHATWG API handlers and npm packages expect, over the
// host's `keyhaven:extension/http` import, which applies the tenant's outbound policy
// (allowed hosts only, none in dry runs, the tenant's timeout and response size, the
// invocation's deadline) exactly as for `wasi:http`. The call is synchronous underneath;
// the promise it returns is settled before the handler's next step runs.
//
// What is supported: a URL or `Request`-like input; `method`, `headers` (object, array of
// pairs or `Headers`) and a `body` of string, `Uint8Array`, `ArrayBuffer` or
// `URLSearchParams`; a `Response` with `status`, `ok`, `headers`, `text()`, `json()`,
// `arrayBuffer()` and `bytes()`. No streaming bodies, no `AbortSignal`, no redirects
// followed (a 3xx is returned as it is).

import { host } from "./host.js";
import { witError } from "./values.js";

export function encodeUtf8(text) {
  if (typeof TextEncoder === "function") return new TextEncoder().encode(text);
  const bytes = [];
  for (const char of String(text)) {
    let code = char.codePointAt(0);
    if (code < 0x80) bytes.push(code);
    else if (code < 0x800) bytes.push(0xc0 | (code >> 6), 0x80 | (code & 63));
    else if (code < 0x10000) bytes.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
    else bytes.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 63), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
  }
  return Uint8Array.from(bytes);
}

export function decodeUtf8(bytes) {
  if (typeof TextDecoder === "function") return new TextDecoder().decode(bytes);
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    let code;
    let size;
    if (b < 0x80) [code, size] = [b, 1];
    else if (b >= 0xf0) [code, size] = [((b & 7) << 18) | ((bytes[i + 1] & 63) << 12) | ((bytes[i + 2] & 63) << 6) | (bytes[i + 3] & 63), 4];
    else if (b >= 0xe0) [code, size] = [((b & 15) << 12) | ((bytes[i + 1] & 63) << 6) | (bytes[i + 2] & 63), 3];
    else [code, size] = [((b & 31) << 6) | (bytes[i + 1] & 63), 2];
    out += String.fromCodePoint(code);
    i += size;
  }
  return out;
}

/** Case-insensitive header names, in order. */
export class KeyhavenHeaders {
  #entries = [];

  constructor(init) {
    if (init === undefined || init === null) return;
    const pairs = typeof init[Symbol.iterator] === "function" ? Array.from(init) : Object.entries(init);
    for (const [name, value] of pairs) this.append(name, value);
  }
  append(name, value) {
    this.#entries.push([String(name).toLowerCase(), String(value)]);
  }
  set(name, value) {
    this.delete(name);
    this.append(name, value);
  }
  delete(name) {
    const key = String(name).toLowerCase();
    this.#entries = this.#entries.filter(([n]) => n !== key);
  }
  get(name) {
    const key = String(name).toLowerCase();
    const values = this.#entries.filter(([n]) => n === key).map(([, v]) => v);
    return values.length === 0 ? null : values.join(", ");
  }
  has(name) {
    return this.get(name) !== null;
  }
  forEach(callback) {
    for (const [name, value] of this.#entries) callback(value, name, this);
  }
  entries() {
    return this.#entries.map((entry) => [...entry])[Symbol.iterator]();
  }
  keys() {
    return this.#entries.map(([name]) => name)[Symbol.iterator]();
  }
  values() {
    return this.#entries.map(([, value]) => value)[Symbol.iterator]();
  }
  [Symbol.iterator]() {
    return this.entries();
  }
}

export class KeyhavenResponse {
  #body;

  constructor(body, { status = 200, statusText = "", headers, url = "" } = {}) {
    this.#body = body instanceof Uint8Array ? body : encodeUtf8(body ?? "");
    this.status = status;
    this.statusText = statusText;
    this.ok = status >= 200 && status < 300;
    this.headers = new KeyhavenHeaders(headers);
    this.url = url;
    this.redirected = false;
    this.type = "basic";
    this.bodyUsed = false;
  }
  #take() {
    if (this.bodyUsed) return Promise.reject(new TypeError("the response body was already read"));
    this.bodyUsed = true;
    return Promise.resolve(this.#body);
  }
  bytes() {
    return this.#take();
  }
  arrayBuffer() {
    return this.#take().then((bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }
  text() {
    return this.#take().then(decodeUtf8);
  }
  json() {
    return this.text().then((text) => JSON.parse(text));
  }
  clone() {
    return new KeyhavenResponse(this.#body.slice(), { status: this.status, statusText: this.statusText, headers: this.headers, url: this.url });
  }
}

function bodyBytes(body, headers) {
  if (body === undefined || body === null) return null;
  if (typeof body === "string") {
    if (!headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
    return encodeUtf8(body);
  }
  if (typeof URLSearchParams === "function" && body instanceof URLSearchParams) {
    if (!headers.has("content-type")) headers.set("content-type", "application/x-www-form-urlencoded;charset=UTF-8");
    return encodeUtf8(body.toString());
  }
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError("fetch: the body must be a string, Uint8Array, ArrayBuffer or URLSearchParams");
}

/** `fetch(input, init)` over the host's outbound HTTP. */
export function keyhavenFetch(input, init = {}) {
  try {
    const url = typeof input === "string" ? input : typeof URL === "function" && input instanceof URL ? input.href : String(input?.url ?? input);
    const method = String(init.method ?? input?.method ?? "GET").toUpperCase();
    const headers = new KeyhavenHeaders(init.headers ?? input?.headers);
    const body = bodyBytes(init.body, headers);
    if (body !== null && (method === "GET" || method === "HEAD")) {
      throw new TypeError(`fetch: a ${method} request cannot have a body`);
    }
    let answer;
    try {
      answer = host().fetch({ method, url, headers: Array.from(headers.entries()), body });
    } catch (thrown) {
      const error = witError(thrown);
      const reason = error !== null && typeof error === "object" && typeof error.tag === "string" ? `${error.tag}: ${error.val}` : String(error);
      throw new TypeError(`fetch ${url} failed: ${reason}`);
    }
    const bytes = answer.body instanceof Uint8Array ? answer.body : Uint8Array.from(answer.body ?? []);
    return Promise.resolve(new KeyhavenResponse(bytes, { status: answer.status, headers: answer.headers, url }));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Installs `fetch`, `Headers` and `Response` where the runtime has none. */
export function installFetch(target = globalThis) {
  target.fetch = keyhavenFetch;
  if (typeof target.Headers !== "function") target.Headers = KeyhavenHeaders;
  if (typeof target.Response !== "function") target.Response = KeyhavenResponse;
}
