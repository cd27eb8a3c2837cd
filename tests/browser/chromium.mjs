// Debian's Chromium, headless, with the flags this machine needs (never a downloaded
// browser: that fails here), and what every browser test script does around it: read
// the base URL, open pages that collect their script errors, report and exit.
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

// The base URL (first argument), or the usage on stderr and exit code 2.
export function baseUrlArgument(script, more = "") {
  const base = process.argv[2];
  if (!base) {
    console.error(`usage: ${script} BASE_URL${more}`);
    process.exit(2);
  }
  return base;
}

// A new page and the list its uncaught script errors go to.
export async function pageWithErrors(browser) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  return { page, errors };
}

// Print the failures and exit 1, or print `passed`.
export function report(failures, passed) {
  if (failures.length) {
    console.error(failures.join("\n"));
    process.exit(1);
  }
  console.log(passed);
}
