// The /kv/ page of a cluster node (`blueprint kv cluster up --nodes 3`) in headless Debian
// Chromium: the ring lists three nodes whose shares add up to 100%, the members table shows
// all three alive, and a key written through the page reads back with its context.
// Usage: node tests/browser/kv_cluster.mjs http://127.0.0.1:PORT
import { baseUrlArgument, launchChromium, pageWithErrors, report } from "./chromium.mjs";

const base = baseUrlArgument("kv_cluster.mjs");
const browser = await launchChromium();
const failures = [];
try {
  const { page, errors } = await pageWithErrors(browser);
  await page.goto(`${base}/kv/`);
  await page.waitForFunction(() => !document.querySelector("#cluster").hidden, null, { timeout: 10_000 });
  await page.waitForFunction(() => document.querySelectorAll("#members tbody tr").length === 3, null, { timeout: 10_000 });
  const states = await page.locator("#members tbody tr td:nth-child(2)").allInnerTexts();
  if (states.length !== 3 || states.some((state) => state !== "alive")) failures.push(`members: ${states}`);
  const shares = await page.locator("#ring tbody tr td:nth-child(3)").allInnerTexts();
  const total = shares.reduce((sum, share) => sum + Number.parseFloat(share), 0);
  if (shares.length !== 3 || Math.abs(total - 100) > 0.5) failures.push(`ring shares ${shares} add up to ${total}`);
  if (!(await page.locator("#engine-view").isHidden())) failures.push("the single-node engine view is shown");
  await page.fill("#key", "browser:greeting");
  await page.fill("#value", "hello cluster");
  await page.click("#put");
  await page.waitForFunction(() => document.querySelector("#result").textContent === "stored", null, { timeout: 10_000 });
  await page.fill("#value", "");
  await page.click("#get");
  await page.waitForFunction(() => /^found: /.test(document.querySelector("#result").textContent), null, { timeout: 10_000 });
  const found = await page.locator("#result").innerText();
  if (found !== "found: hello cluster") failures.push(`read back: ${found}`);
  if (errors.length) failures.push(`page errors: ${errors.join("; ")}`);
} catch (error) {
  failures.push(error.message);
} finally {
  await browser.close();
}
report(failures, "cluster page ok");
