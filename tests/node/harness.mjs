// What the test scripts share: the environment they are given, checks that fail with a
// message, the system's Chromium (headless, never a browser of Playwright's own), and a
// script's `main` run under a watchdog, its failure printed and the exit code set.
// keyhaven_tests::node installs this file beside the locked packages.

import { createHmac } from "node:crypto";
import { chromium } from "playwright-core";

/** The environment variable `name`; fails if it is not set. */
export function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** The authenticator app's code now (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits) for a
 * base32 `secret`. Computed when it is typed, so a slow run never types an expired code. */
export function totpCode(secret) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) {
    const value = alphabet.indexOf(c);
    if (value < 0) throw new Error(`not base32: ${c}`);
    bits += value.toString(2).padStart(5, "0");
  }
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** Headless Chromium from CHROMIUM (default /usr/bin/chromium). */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 30_000,
    // Chromium refuses to start its sandbox as root (containers, CI): run without it there.
    args: [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), "--disable-dev-shm-usage"],
  });
}

/** What a script has done and seen so far (steps, responses, console messages), each with
 * the milliseconds since it started; printed when the watchdog stops a script, so a hang
 * says where it was. */
export const trail = [];
const started = Date.now();

/** Adds `what` to the trail. */
export function note(what) {
  trail.push(`${String(Date.now() - started).padStart(6)} ms ${what}`);
}

/** Closes `browser`, giving up after 5 s (a browser that hangs on close must not hide the
 * script's result). */
export async function closeBrowser(browser) {
  await Promise.race([browser.close().catch(() => {}), new Promise((done) => setTimeout(done, 5_000))]);
}

/** Runs `main`; after `ms` without a result the script prints its trail and exits
 * (keyhaven_tests::node kills scripts after 240 s). A failure is printed, with its cause,
 * and the exit code set. */
export async function run(name, main, ms = 90_000) {
  const watchdog = setTimeout(() => {
    console.error(`${name}: no result after ${ms} ms; what it did and saw:\n  ${trail.join("\n  ")}`);
    process.exit(1);
  }, ms);
  try {
    await main();
  } catch (failure) {
    console.error(failure);
    console.error(`what it did and saw:\n  ${trail.join("\n  ")}`);
    if (failure?.cause !== undefined) console.error("cause:", JSON.stringify(failure.cause, null, 2));
    process.exitCode = 1;
  } finally {
    clearTimeout(watchdog);
  }
}
