// What the test scripts share: the environment they are given, checks that fail with a
// message, the system's Chromium (headless, never a browser of Playwright's own), and a
// script's `main` run under a watchdog, its failure printed and the exit code set.
// keyhaven_tests::node installs this file beside the locked packages.

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

/** Runs `main`; after `ms` without a result the script exits (keyhaven_tests::node kills
 * scripts after 120 s). A failure is printed, with its cause, and the exit code set. */
export async function run(name, main, ms = 90_000) {
  const watchdog = setTimeout(() => {
    console.error(`${name}: no result after ${ms} ms`);
    process.exit(1);
  }, ms);
  try {
    await main();
  } catch (failure) {
    console.error(failure);
    if (failure?.cause !== undefined) console.error("cause:", JSON.stringify(failure.cause, null, 2));
    process.exitCode = 1;
  } finally {
    clearTimeout(watchdog);
  }
}
