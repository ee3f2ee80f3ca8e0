// A person signs in on the hosted pages in a real browser: headless Chromium (the system's,
// driven by playwright-core; Playwright's own browsers are never downloaded) opens the
// authorization URL, types the username and clicks Continue, types a wrong password once
// and must see "authentication failed" with the password form still there, then types the
// right one and clicks Sign in. The redirect back to the client is intercepted (nothing
// listens at REDIRECT_URI: the browser is answered with a small page instead) and its URL
// captured.
//
// Reads AUTHORIZE_URL, REDIRECT_URI, USERNAME, PASSWORD and CHROMIUM (default
// /usr/bin/chromium) from the environment. Prints one JSON line: the callback's code, state
// and iss, the cookies the browser keeps for the service (name, httpOnly, sameSite, path,
// secure, session), the sign-in page's title and whether the wrong password was refused on
// the page. Exits non-zero at the first surprise — a page that does not come, a console
// error (a Content Security Policy violation among them), a redirect that never reaches the
// client — with what the browser saw.

import { check, closeBrowser, launchChromium, note, required, run, trail } from "./harness.mjs";

/** How long one step (a navigation, a click, an element to appear) may take. */
const STEP_MS = 10_000;
const WRONG_PASSWORD = "not the password at all";

/** Rejects after `ms` with `message`, unless `promise` settles first. */
function within(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${message}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const authorizeUrl = new URL(required("AUTHORIZE_URL"));
  const redirectUri = required("REDIRECT_URI");
  const username = required("USERNAME");
  const password = required("PASSWORD");
  const service = authorizeUrl.origin;

  // Everything the browser reports, for the error message when something goes wrong.
  const consoleErrors = [];

  const browser = await launchChromium();
  try {
    const context = await browser.newContext();
    context.setDefaultTimeout(STEP_MS);
    context.setDefaultNavigationTimeout(STEP_MS);
    const page = await context.newPage();
    page.on("console", (message) => {
      note(`console ${message.type()}: ${message.text()}`);
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => {
      note(`page error: ${error.message}`);
      consoleErrors.push(error.message);
    });
    page.on("response", (response) => {
      const location = response.headers().location;
      note(`${response.request().method()} ${response.url()} -> ${response.status()}${location ? ` (Location: ${location})` : ""}`);
    });
    page.on("requestfailed", (request) => note(`failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`));

    // The client's redirect URI: answered by the browser itself, its URL kept.
    let arrived;
    const callback = new Promise((resolve) => {
      arrived = resolve;
    });
    await context.route(
      (url) => url.href.startsWith(redirectUri),
      async (route) => {
        arrived(new URL(route.request().url()));
        await route.fulfill({
          status: 200,
          contentType: "text/html; charset=utf-8",
          body: "<!DOCTYPE html><html><head><title>Client</title></head><body>Signed in.</body></html>",
        });
      },
    );

    try {
      const first = await page.goto(authorizeUrl.href, { waitUntil: "load" });
      check(first?.status() === 200, `the authorization URL answered ${first?.status()}`);
      check(new URL(page.url()).origin === service, `the sign-in page is off the service: ${page.url()}`);
      const title = await page.title();
      const csp = first.headers()["content-security-policy"] ?? null;

      // Identifier first: the username, then Continue.
      await page.fill("#identify #username", username);
      await page.click("#identify button[type=submit]");
      await page.locator("#password-form #password").waitFor({ state: "visible" });

      // A wrong password: the page says so and asks again.
      await page.fill("#password-form #password", WRONG_PASSWORD);
      await page.click("#password-form button[type=submit]");
      await page.getByText("authentication failed").waitFor({ state: "visible" });
      const refusedAgain = await page.locator("#password-form #password").isVisible();
      check(refusedAgain, "after a wrong password the page has no password form");
      check(new URL(page.url()).origin === service, `a wrong password left the service: ${page.url()}`);
      check((await page.inputValue("#password-form #password")) === "", "the wrong password is still in the field");

      // The right password: the service sends the browser back to the client.
      await page.fill("#password-form #password", password);
      await page.click("#password-form button[type=submit]");
      const landed = await within(callback, STEP_MS, `the browser never reached ${redirectUri}`).catch((failure) => {
        const violation = consoleErrors.find((text) => text.includes("Content Security Policy"));
        if (violation) failure.message += ` — the hosted pages' own Content Security Policy blocked the redirect: ${violation}`;
        throw failure;
      });
      await page.waitForURL((url) => url.href.startsWith(redirectUri), { waitUntil: "load" });
      check((await page.title()) === "Client", `the client's page did not load: ${await page.title()}`);

      // The cookies the browser would send to the tenant's pages (they are Path=/t/{tenant}).
      const cookies = (await context.cookies(authorizeUrl.href)).map((cookie) => ({
        name: cookie.name,
        httpOnly: cookie.httpOnly,
        sameSite: cookie.sameSite,
        path: cookie.path,
        secure: cookie.secure,
        session: cookie.expires === -1,
      }));
      check(consoleErrors.length === 0, `the pages logged errors: ${JSON.stringify(consoleErrors)}`);

      console.log(
        JSON.stringify({
          callback: Object.fromEntries(landed.searchParams),
          cookies,
          title,
          csp,
          wrong_password_message: refusedAgain,
        }),
      );
    } catch (failure) {
      failure.message += `\nthe browser is at ${page.url()}`;
      throw failure;
    }
  } finally {
    await closeBrowser(browser);
  }
}

await run("browser_login.mjs", main);
