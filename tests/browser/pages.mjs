// Drives each running system's console page in headless Debian Chromium: the rate limiter's
// simulator must chart the fixed window letting more than its limit through across a window
// boundary (figure 4-9), and the hash ring page must move keys only to a node that joins.
// Usage: node tests/browser/pages.mjs http://127.0.0.1:PORT [screenshot-prefix]
import { baseUrlArgument, launchChromium, pageWithErrors, report } from "./chromium.mjs";

const base = baseUrlArgument("pages.mjs", " [SCREENSHOT_PREFIX]");
const shots = process.argv[3];

const browser = await launchChromium();
const failures = [];
const passed = [];

async function onPage(path, check) {
  const { page, errors } = await pageWithErrors(browser);
  try {
    await page.goto(`${base}${path}`);
    await check(page);
    if (errors.length) failures.push(`${path}: page errors: ${errors.join("; ")}`);
    else passed.push(path);
    if (shots) await page.screenshot({ path: `${shots}${path.replaceAll("/", "_")}.png`, fullPage: true });
  } catch (error) {
    failures.push(`${path}: ${error.message}`);
  } finally {
    await page.close();
  }
}

await onPage("/ratelimit/", async (page) => {
  await page.selectOption("#algorithm", "fixed_window");
  await page.selectOption("#pattern", "boundary");
  await page.fill("#limit", "10");
  await page.click("#run");
  await page.waitForFunction(() => /requests, \d+ accepted/.test(document.querySelector("#summary").textContent),
    null, { timeout: 10_000 });
  const summary = await page.locator("#summary").innerText();
  const most = Number(/Most accepted within any \d+ ms: (\d+)/.exec(summary)?.[1]);
  if (!(most > 10)) failures.push(`/ratelimit/: fixed window boundary burst shows ${most}, want > 10: "${summary}"`);
  await page.selectOption("#algorithm", "sliding_window_log");
  await page.evaluate(() => { document.querySelector("#summary").textContent = ""; });
  await page.click("#run");
  await page.waitForFunction(() => /requests, \d+ accepted/.test(document.querySelector("#summary").textContent),
    null, { timeout: 10_000 });
  const exact = Number(/Most accepted within any \d+ ms: (\d+)/.exec(await page.locator("#summary").innerText())?.[1]);
  if (!(exact > 0 && exact <= 10)) failures.push(`/ratelimit/: sliding log admits ${exact} in a window, want 1..=10`);
});

await onPage("/hashring/", async (page) => {
  await page.waitForFunction(() => document.querySelectorAll("#nodes tr").length === 3, null, { timeout: 10_000 });
  await page.fill("#node-id", "cache-new");
  await page.click("#add button[type=submit]");
  await page.waitForFunction(() => /keys moved/.test(document.querySelector("#summary").textContent), null,
    { timeout: 10_000 });
  const rows = await page.locator("#moved tr").allInnerTexts();
  if (rows.length === 0) failures.push("/hashring/: no key moved to the new node");
  const stray = rows.filter((row) => !row.includes("→ cache-new"));
  if (stray.length) failures.push(`/hashring/: keys moved elsewhere than the new node: ${stray.slice(0, 3).join(" | ")}`);
  const nodes = await page.locator("#nodes tr").count();
  if (nodes !== 4) failures.push(`/hashring/: ${nodes} nodes listed after the add, want 4`);
});

await onPage("/estimate/", async (page) => {
  await page.waitForFunction(() => /150 M/.test(document.querySelector("#headline").textContent), null,
    { timeout: 10_000 });
  const headline = await page.locator("#headline").innerText();
  if (!/55 PB/.test(headline)) failures.push(`/estimate/: the Twitter example does not reach 55 PB: "${headline}"`);
  await page.fill("#mau", "600000000");
  await page.locator("#mau").dispatchEvent("input");
  await page.waitForFunction(() => /300 M/.test(document.querySelector("#headline").textContent), null,
    { timeout: 10_000 });
  await page.click("#measure");
  await page.waitForFunction(() => document.querySelectorAll("#latency tr").length >= 10, null,
    { timeout: 20_000 });
  if ((await page.locator("#powers tr").count()) < 5) failures.push("/estimate/: powers of two table is empty");
});

await onPage("/ids/", async (page) => {
  await page.fill("#count", "5");
  await page.click("#generate button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#ids li").length === 5, null, { timeout: 10_000 });
  const ids = (await page.locator("#ids li").allInnerTexts()).map((text) => BigInt(text.trim()));
  if (!ids.every((id, i) => i === 0 || id > ids[i - 1])) failures.push(`/ids/: IDs not increasing: ${ids}`);
  await page.locator("#ids li").first().click();
  await page.waitForFunction(() => !document.querySelector("#decoded").hidden &&
    document.querySelectorAll("#fields tr").length > 0, null, { timeout: 10_000 });
});

await onPage("/kv/", async (page) => {
  await page.fill("#key", "browser-key");
  await page.fill("#value", "stored from the browser");
  await page.click("#put");
  await page.waitForFunction(() => document.querySelector("#result").textContent === "stored", null,
    { timeout: 10_000 });
  // The engine panel shows the write: a write amplification figure and a sequence number.
  await page.waitForFunction(() => /^\d/.test(document.querySelector("#write-amp").textContent) &&
    document.querySelector("#last-seq").textContent !== "0", null, { timeout: 10_000 });
  await page.fill("#prefix", "browser-");
  await page.click("#list");
  await page.waitForFunction(() => [...document.querySelectorAll("#keys li")]
    .some((item) => item.textContent === "browser-key"), null, { timeout: 10_000 });
  await page.fill("#value", "");
  await page.click("#get");
  await page.waitForFunction(() => document.querySelector("#value").value === "stored from the browser", null,
    { timeout: 10_000 });
  await page.click("#delete");
  await page.waitForFunction(() => document.querySelector("#result").textContent === "deleted", null,
    { timeout: 10_000 });
  await page.click("#get");
  await page.waitForFunction(() => /not_found/.test(document.querySelector("#result").textContent), null,
    { timeout: 10_000 });
});

await onPage("/autocomplete/", async (page) => {
  await page.locator("#q").pressSequentially("t", { delay: 20 });
  await page.waitForFunction(() => document.querySelectorAll("#suggestions li").length === 5, null,
    { timeout: 10_000 });
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  const chosen = await page.locator('#suggestions li[aria-selected="true"] span').first().innerText();
  await page.keyboard.press("Enter");
  await page.waitForFunction((query) => document.querySelector("#status").textContent === "searched: " + query,
    chosen, { timeout: 10_000 });
  if ((await page.inputValue("#q")) !== chosen) failures.push("/autocomplete/: Enter did not take the selection");
});

await onPage("/shortener/", async (page) => {
  await page.fill("#longUrl", "https://example.com/from/the/browser");
  await page.click('#shorten button[type="submit"]');
  await page.waitForFunction(() => !document.querySelector("#result").hidden &&
    /\/[0-9A-Za-z]{3,}$/.test(document.querySelector("#short").textContent), null, { timeout: 10_000 });
  // The QR code image loads (an SVG from the API), and the stats of the new link show.
  await page.waitForFunction(() => document.querySelector("#qrimg").complete &&
    document.querySelector("#qrimg").naturalWidth > 0, null, { timeout: 10_000 });
  await page.waitForFunction(() => /0 clicks/.test(document.querySelector("#stats").textContent), null,
    { timeout: 10_000 });
  // A non-http URL is refused with its code, and the page says so.
  await page.fill("#longUrl", "ftp://example.com/file");
  await page.evaluate(() => document.querySelector("#longUrl").setAttribute("type", "text"));
  await page.click('#shorten button[type="submit"]');
  await page.waitForFunction(() => /invalid_url/.test(document.querySelector("#error").textContent), null,
    { timeout: 10_000 });
});

await browser.close();
report(failures, `pages work: ${passed.join(", ")}`);
