// Drives the Blueprint console in headless Debian Chromium and checks that it lists every
// system the server reports, with its state and, for running systems, a link to its page.
// Usage: node tests/browser/console.mjs http://127.0.0.1:PORT [screenshot.png]
import { baseUrlArgument, launchChromium, pageWithErrors, report } from "./chromium.mjs";

const base = baseUrlArgument("console.mjs", " [SCREENSHOT]");
const screenshot = process.argv[3];

const expected = await (await fetch(`${base}/api/v1/systems`)).json();
const browser = await launchChromium();
const failures = [];
try {
  const { page, errors } = await pageWithErrors(browser);
  await page.goto(`${base}/`);
  await page.waitForFunction(
    (count) => document.querySelectorAll("#systems tr").length === count,
    expected.length,
    { timeout: 10_000 },
  );
  for (const system of expected) {
    const row = page.locator(`#systems tr[data-system="${system.name}"]`);
    if ((await row.count()) !== 1) {
      failures.push(`${system.name}: no row`);
      continue;
    }
    const text = await row.innerText();
    if (!text.includes(system.title)) failures.push(`${system.name}: title missing in "${text}"`);
    if ((await row.getAttribute("data-state")) !== system.state) {
      failures.push(`${system.name}: state ${await row.getAttribute("data-state")} != ${system.state}`);
    }
    const links = await row.locator("a").count();
    if (system.page && links !== 1) failures.push(`${system.name}: running but no link to ${system.page}`);
    if (!system.page && links !== 0) failures.push(`${system.name}: planned but linked`);
  }
  const summary = await page.locator("#summary").innerText();
  if (!summary.includes(`${expected.length} systems`)) failures.push(`summary says "${summary}"`);
  if (errors.length) failures.push(`page errors: ${errors.join("; ")}`);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
report(failures, `console lists ${expected.length} systems`);
