// How srconvert starts headless Chromium, for the browser host (host.cjs)
// and for whatever else drives a page of srconvert's (the tests' check-page
// driver): one set of flags.
'use strict';

const ARGS = [
  // SwiftShader gives WebGL and WebGPU on machines without a GPU; on one
  // with a GPU, Chromium uses it as users' browsers do.
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  // A closed network: nothing but the page's own server is ever reached.
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
  '--disable-quic', '--disable-extensions',
  ...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []),
];

function launch(executable) {
  const puppeteer = require('puppeteer-core');
  return puppeteer.launch({
    executablePath: executable,
    headless: true,
    // No fixed per-call limit of puppeteer's (180 s by default): srconvert
    // gives every call a deadline from its estimated work (converter/core/deadline.py)
    // and stops the whole run, with its own message, past it.
    protocolTimeout: 0,
    args: ARGS,
  });
}

module.exports = { launch, ARGS };
