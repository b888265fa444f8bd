// Opens a bundle's check.html?run=all (served by `srconvert serve`) in
// headless Chromium, as srconvert launches it, and prints on stdout what
// the page gives scripts: window.srconvertCheck's results. With a photo, it
// then drops the photo on the try-it panel, runs the chosen artifact and
// backend, and prints the output's RGBA pixels (base64) too.
//
// --cdn answers the page's requests to jsDelivr from node_modules (this
// machine reaches no CDN), and --cdn-tamper FILE changes one byte of that
// file on the way, so the page's Subresource Integrity checks are exercised;
// any other request off 127.0.0.1 is refused.
//
//   node check_page.cjs CHROMIUM URL [--photo FILE --artifact INDEX --backend NAME [--tiled]]
//        [--screenshot PNG] [--cdn [--cdn-tamper PACKAGE/PATH]]
'use strict';

const fs = require('fs');
const path = require('path');
const { launch } = require('../../converter/backends/chromium/launch.cjs');

function option(name) {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : null;
}

async function main() {
  const [executable, url] = process.argv.slice(2, 4);
  const browser = await launch(executable);
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    page.on('console', (message) => { if (message.type() === 'error') console.error(`page: ${message.text()}`); });
    const cdn = [];
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.hostname === '127.0.0.1') return request.continue();
      const found = url.hostname === 'cdn.jsdelivr.net' && process.argv.includes('--cdn')
        && url.pathname.match(/^\/npm\/((?:@[^/]+\/)?[^@/]+)@[^/]+\/(.+)$/);
      if (!found) return request.abort('internetdisconnected');
      const local = `${found[1]}/${found[2]}`;
      cdn.push(local);
      const body = fs.readFileSync(path.join(__dirname, '..', '..', 'node_modules', local));
      if (option('--cdn-tamper') === local) body[body.length - 2] ^= 0x01;
      const type = local.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
      return request.respond({ status: 200, body, headers: { 'access-control-allow-origin': '*', 'content-type': type } });
    });
    await page.goto(`${url}?run=all`);
    // A boolean, not the Promise itself: waitForFunction would wait for the
    // Promise to settle (every row run) under its own timeout. The rows take
    // what they take; evaluate below awaits them with no limit of its own.
    await page.waitForFunction('window.srconvertCheck !== undefined', { timeout: 60000 });
    const check = await page.evaluate(() => window.srconvertCheck);
    let tried = null;
    const photo = option('--photo');
    if (photo) {
      // A drop, as a user's: a File in a DataTransfer on the drop zone.
      await page.evaluate(async (b64, name) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type: 'image/png' }));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      }, fs.readFileSync(photo).toString('base64'), path.basename(photo));
      await page.waitForFunction('!document.getElementById("try-run").disabled', { timeout: 60000 });
      await page.select('#try-artifact', option('--artifact'));
      await page.select('#try-backend', option('--backend'));
      if (process.argv.includes('--tiled')) await page.click('#try-tiled');
      tried = await page.evaluate(async () => {
        const result = await window.srconvertPage.tryIt();
        let text = '';
        for (let i = 0; i < result.rgba.length; i += 0x8000) text += String.fromCharCode(...result.rgba.subarray(i, i + 0x8000));
        return { ...result, rgba: btoa(text), caption: document.getElementById('try-caption').textContent };
      });
    }
    const shot = option('--screenshot');
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    process.stdout.write(`${JSON.stringify({ check, tried, cdn })}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
