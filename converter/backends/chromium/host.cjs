// srconvert's browser host: one headless Chromium, driven by puppeteer-core,
// with one page served from 127.0.0.1 (WebGPU needs a secure context) that
// loads bundles the way a web app does: over HTTP, into TensorFlow.js (webgl,
// webgpu) and onnxruntime-web (wasm, webgpu).
//
// It speaks the Node host's protocol (../node/protocol.cjs), so Python drives
// both hosts alike. The HTTP
// server answers only for the runtimes' own files and for folders a `load`
// request named, and only on the loopback address.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const { serve } = require('../node/protocol.cjs');
const { launch } = require('./launch.cjs');

// The files the page loads from node_modules, by URL prefix.
const PACKAGES = [
  '@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', 'onnxruntime-web', 'upscaler', '@upscalerjs/default-model',
  '@huggingface/transformers',
];
const PAGE_DIR = __dirname;
const roots = new Set();
let browser = null;
let page = null;
let server = null;
let origin = null;

function packageRoot(name) {
  // Node's own search path, not require.resolve: "exports" may hide
  // package.json, and upscaler exports no CommonJS entry at all.
  const found = require.resolve.paths(name).map((dir) => path.join(dir, name))
    .find((dir) => fs.existsSync(path.join(dir, 'package.json')));
  if (!found) throw new Error(`Node package ${name} is not installed`);
  return found;
}

function contentType(file) {
  if (file.endsWith('.wasm')) return 'application/wasm';
  if (file.endsWith('.js') || file.endsWith('.mjs') || file.endsWith('.cjs')) return 'text/javascript';
  if (file.endsWith('.json')) return 'application/json';
  if (file.endsWith('.html')) return 'text/html';
  return 'application/octet-stream';
}

// /npm/<package>/<file> from an allowed package; /fs/<absolute path> inside a
// folder a load request named; the page's own files from this folder.
function resolveUrl(url) {
  if (['/page.html', '/page.js', '/runtimes.js'].includes(url)) return path.join(PAGE_DIR, url.slice(1));
  if (url.startsWith('/npm/')) {
    const name = PACKAGES.find((p) => url.startsWith(`/npm/${p}/`));
    if (!name) return null;
    const root = packageRoot(name);
    const file = path.resolve(root, url.slice(`/npm/${name}/`.length));
    return file.startsWith(root + path.sep) ? file : null;
  }
  if (url.startsWith('/fs/')) {
    const file = path.resolve(url.slice('/fs'.length));
    for (const root of roots) if (file.startsWith(root + path.sep)) return file;
  }
  return null;
}

function serveFile(request, response) {
  let file = null;
  try {
    file = resolveUrl(decodeURIComponent(new URL(request.url, origin).pathname));
  } catch (error) {
    file = null;
  }
  if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    response.writeHead(404);
    response.end();
    return;
  }
  response.writeHead(200, { 'content-type': contentType(file), 'cache-control': 'no-store' });
  fs.createReadStream(file).pipe(response);
}

async function init({ executable }) {
  server = http.createServer(serveFile);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launch(executable);
  page = await browser.newPage();
  page.on('console', (message) => console.error(`page: ${message.text()}`));
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(`${origin}/page.html`);
  await page.waitForFunction('window.srconvert && window.srconvert.ready', { timeout: 60000 });
  const facts = await page.evaluate(() => window.srconvert.facts());
  return { chromium: (await browser.version()).replace(/^(Headless)?Chrome\//, ''), ...facts };
}

async function load({ handle, kind, modelJson, customLayers, backend, dtype }) {
  roots.add(path.dirname(path.resolve(modelJson)));
  if (customLayers) roots.add(path.dirname(path.resolve(customLayers)));
  const url = (file) => `${origin}/fs${path.resolve(file)}`;
  return page.evaluate(
    (request) => window.srconvert.load(request),
    { handle, kind, url: url(modelJson), customLayers: customLayers ? url(customLayers) : null, backend, dtype },
  );
}

async function infer({ handle, shape, data, options }) {
  return page.evaluate((request) => window.srconvert.infer(request), { handle, shape, data, options });
}

async function unload({ handle }) {
  return page.evaluate((request) => window.srconvert.unload(request), { handle });
}

async function close() {
  if (browser) await browser.close();
  if (server) server.close();
  browser = null;
  server = null;
}

serve({ init, load, infer, unload }, close);
