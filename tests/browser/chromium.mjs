// Debian's Chromium, headless, with the flags this machine needs (never a downloaded
// browser: that fails here). Shared by the browser test scripts.
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}
