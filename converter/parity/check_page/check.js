// The bundle's self-check page (check.html), written by srconvert: nothing
// to build, nothing fetched but this folder and the libraries named in
// check/reference.json.
//
// 1. manifest.json and the reference data (check/reference.json, .bin: the
//    parity inputs the browser lane runs, and the source model's outputs on
//    them, stored as 16-bit steps over each output's range);
// 2. every file's sha256 (SubtleCrypto) against the manifest: a file that
//    differs fails its artifact before anything runs;
// 3. every artifact on every backend this browser offers for its kind,
//    judged with the bundle's own gate. The stored reference is within half
//    a step of the source's output, so a verdict is given only when it holds
//    whatever that rounding was (see judge);
// 4. window.srconvertCheck: a Promise of {adapter, results}, settled once
//    every row has run (`?run=all` starts them on load).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const BACKENDS = { layers: ['webgl', 'webgpu', 'wasm'], graph: ['webgl', 'webgpu', 'wasm'],
    onnx: ['wasm', 'webgpu', 'jsep', 'webnn'] };
  const WARMED_BY_FIRST = 3; // as srconvert's parity engine: fewer inputs get a separate warm-up run
  let settle;
  window.srconvertCheck = new Promise((resolve) => { settle = resolve; });

  const state = { manifest: null, reference: null, data: null, runtimes: null, adapter: null, rows: [],
    libraries: null, bad: new Map(), image: null, models: new Map() };

  function kindOf(artifact) { return artifact.format === 'onnx' ? 'onnx' : artifact.format.replace(/^tfjs-/, ''); }

  function loadScript(url, integrity) {
    return new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = url;
      if (integrity) { script.integrity = integrity; script.crossOrigin = 'anonymous'; }
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${url}${integrity ? ' (or its integrity hash differs)' : ''}`));
      document.head.appendChild(script);
    });
  }

  // The libraries from check/libs/ when this folder has them (`srconvert
  // serve`, or a bundle written with --vendor-libs), else from the CDN at
  // the pinned versions, each script checked against its SRI hash.
  async function loadLibraries(libraries) {
    const probe = await fetch(`check/libs/${libraries.scripts[0].path}`, { method: 'HEAD' }).catch(() => null);
    const local = Boolean(probe && probe.ok);
    for (const lib of libraries.scripts) {
      await loadScript(local ? `check/libs/${lib.path}` : lib.cdn, local ? null : lib.integrity);
    }
    const base = (dir) => (local ? new URL(`check/libs/${dir.path}`, location.href).href : dir.cdn);
    return {
      from: local ? 'this folder (check/libs/)' : 'the CDN, scripts checked by their SRI hashes',
      dirs: { ortDist: base(libraries.dirs.ortDist), ortDefaultBuild: base(libraries.dirs.ortDefaultBuild),
        tfjsWasmDist: base(libraries.dirs.tfjsWasmDist) },
    };
  }

  // SHA-256 in plain JavaScript, for a page opened over plain HTTP from
  // another device (no SubtleCrypto outside a secure context): the file
  // checks then still run, more slowly, instead of being skipped.
  function sha256Plain(bytes) {
    const K = new Uint32Array([
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
      0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
      0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
      0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
      0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
      0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
      0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2]);
    const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
      0x5be0cd19]);
    const length = bytes.length;
    const padded = new Uint8Array(Math.ceil((length + 9) / 64) * 64);
    padded.set(bytes);
    padded[length] = 0x80;
    const view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
    view.setUint32(padded.length - 4, (length * 8) >>> 0);
    const w = new Uint32Array(64);
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    for (let offset = 0; offset < padded.length; offset += 64) {
      for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + 4 * i);
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      [a, b, c, d, e, f, g, hh].forEach((v, i) => { h[i] = (h[i] + v) >>> 0; });
    }
    return Array.from(h, (v) => v.toString(16).padStart(8, '0')).join('');
  }

  async function sha256(url) {
    const response = await fetch(url, { cache: 'no-store' });
    if (!response.ok) return null;
    const bytes = await response.arrayBuffer();
    if (!(window.crypto && crypto.subtle)) return sha256Plain(new Uint8Array(bytes));
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // Which files differ from the manifest, by artifact entry (and '' for the
  // reference data, which every row needs).
  async function checkFiles(manifest) {
    const bad = new Map();
    const check = async (key, files) => {
      for (const file of files) {
        const found = await sha256(file.path);
        if (found !== file.sha256) {
          bad.set(key, `${file.path} ${found === null ? 'is missing' : 'differs from manifest.json (sha256)'}`);
          return;
        }
      }
    };
    await check('', manifest.check_page.files.filter((f) => f.path.startsWith('check/reference.')));
    for (const artifact of manifest.artifacts) await check(artifact.entry, artifact.files);
    return bad;
  }

  // The stored inputs (float32) and reference outputs (uint16 steps).
  function arrays(reference, data) {
    const inputs = reference.inputs.map((item) => ({ ...item,
      values: new Float32Array(data, item.offset, item.shape.reduce((a, b) => a * b)) }));
    const outputs = reference.outputs.map((item) => {
      const steps = new Uint16Array(data, item.offset, item.shape.reduce((a, b) => a * b));
      return { ...item, values: Float32Array.from(steps, (q) => item.low + q * item.step) };
    });
    return { inputs, outputs };
  }

  // NHWC <-> the artifact's layout (an ONNX artifact may take NCHW).
  function toLayout(values, [n, h, w, c], layout) {
    if (layout !== 'nchw') return { values, shape: [n, h, w, c] };
    const out = new Float32Array(values.length);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) {
      out[(k * h + y) * w + x] = values[(y * w + x) * c + k];
    }
    return { values: out, shape: [n, c, h, w] };
  }

  function fromLayout(values, shape, layout) {
    if (layout !== 'nchw') return { values, shape };
    const [n, c, h, w] = shape;
    const out = new Float32Array(values.length);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) {
      out[(y * w + x) * c + k] = values[(k * h + y) * w + x];
    }
    return { values: out, shape: [n, h, w, c] };
  }

  async function offered(backend) {
    if (backend === 'webgpu' || backend === 'jsep') {
      if (!navigator.gpu) return 'this browser offers no WebGPU (navigator.gpu is missing)';
      return state.adapter && state.adapter.adapter ? null : 'this browser gives no WebGPU adapter';
    }
    if (backend === 'webnn') return 'ml' in navigator ? null : 'this browser offers no WebNN (navigator.ml is missing)';
    if (backend === 'webgl') return document.createElement('canvas').getContext('webgl2') ? null : 'no WebGL2 context';
    return null;
  }

  async function loadModel(artifact, backend) {
    const key = `${artifact.entry}|${backend}`;
    if (!state.models.has(key)) {
      const kind = kindOf(artifact);
      const url = new URL(artifact.entry, location.href).href;
      const layers = artifact.files.find((f) => f.path.endsWith('/custom-layers.js'));
      state.models.set(key, kind === 'onnx'
        ? state.runtimes.loadOnnx({ url, backend })
        : state.runtimes.loadTfjs({ kind, url, backend,
          customLayers: kind === 'layers' && layers ? new URL(layers.path, location.href).href : null }));
    }
    return state.models.get(key);
  }

  async function infer(model, artifact, values, shape) {
    const input = toLayout(values, shape, artifact.layout);
    const start = performance.now();
    const result = await model.run(input.values, input.shape);
    const ms = performance.now() - start;
    return { ...fromLayout(Float32Array.from(result.values), Array.from(result.shape, Number), artifact.layout), ms };
  }

  // As srconvert's parity metrics, over every element of every input. The
  // stored reference is within `error` of the source's output, so the true
  // max abs and RMS error are within `error` of the measured ones (the
  // triangle inequality): the gate passes only if it passes at the worst
  // of them, and fails only if it fails at the best.
  function judge(references, outputs, gate, valueRange, error) {
    let max = 0; let squared = 0; let total = 0;
    for (let i = 0; i < references.length; i++) {
      const ref = references[i]; const out = outputs[i];
      if (ref.shape.join('x') !== out.shape.join('x')) {
        return { error: `output shape ${out.shape.join('x')}, the source gives ${ref.shape.join('x')}` };
      }
      for (let j = 0; j < ref.values.length; j++) {
        const d = Math.abs(ref.values[j] - out.values[j]);
        if (!Number.isFinite(d)) return { error: 'the output is not finite (NaN or inf)' };
        if (d > max) max = d;
        squared += d * d;
      }
      total += ref.values.length;
    }
    const rmse = Math.sqrt(squared / total);
    const psnr = (r) => (r === 0 ? Infinity : 20 * Math.log10(valueRange / r));
    const passesAt = (maxAbs, rms) => (gate.metric === 'max_abs_rel'
      ? maxAbs <= gate.threshold * valueRange : psnr(rms) >= gate.threshold);
    const worst = passesAt(max + error, rmse + error);
    const best = passesAt(Math.max(0, max - error), Math.max(0, rmse - error));
    return { psnr_db: psnr(rmse), max_abs: max, pass: worst ? true : (best ? null : false) };
  }

  // As srconvert's parity engine: a PSNR gate (the lossy precisions) judges
  // the photos as a user sees them, both outputs clipped to the model's pixel
  // range with that range as the peak; any other gate, or a row with no
  // photo, every input on the reference output's spread. Clipping moves no
  // value further, so the stored reference's error bound still holds.
  function judgeGate(chosen, inputs, outputs, got, gate) {
    const photos = chosen.map((index, k) => k).filter((k) => inputs[chosen[k]].photo);
    const { storage_error: error, value_range: spread, pixel_range: pixels, shown_share: share } = state.reference;
    if (gate.metric !== 'psnr' || !photos.length || !pixels) {
      return judge(chosen.map((i) => outputs[i]), got, gate, spread, error);
    }
    const [low, high] = pixels;
    const expected = photos.map((k) => outputs[chosen[k]]);
    let inside = 0; let total = 0; let least = Infinity; let most = -Infinity;
    for (const e of expected) {
      for (const v of e.values) {
        if (v >= low && v <= high) inside += 1;
        least = Math.min(least, v); most = Math.max(most, v);
      }
      total += e.values.length;
    }
    if (inside < share * total) { // mostly clipped: judged unclipped, on the photos' own spread
      return judge(expected, photos.map((k) => got[k]), gate, Math.max(most - least, 1e-12), error);
    }
    const shown = (a) => ({ shape: a.shape, values: a.values.map((v) => Math.min(high, Math.max(low, v))) });
    return judge(expected.map(shown), photos.map((k) => shown(got[k])), gate, high - low, error);
  }

  function gateText(gate) {
    return gate.metric === 'max_abs_rel' ? `max abs ≤ ${gate.threshold} × range` : `PSNR ≥ ${gate.threshold} dB`;
  }

  function reported(artifact, backend) {
    const runtime = (state.reference.runtimes[kindOf(artifact)] || {})[backend];
    if (!runtime) return 'no such runtime in srconvert';
    if ((artifact.unsupported_backends || {})[runtime]) return `${runtime}: exempt`;
    const result = ((artifact.parity || {}).results || []).find((r) => r.runtime === runtime);
    if (!result) return `${runtime}: not run (convert with --browser)`;
    return `${runtime}: ${result.pass ? 'pass' : 'FAIL'}`;
  }

  async function runRow(row) {
    const { artifact, backend, spec } = row;
    const base = { artifact: artifact.entry, backend, psnr_db: null, max_abs: null, pass: null, unsupported: null,
      first_ms: null, warm_ms: null, error: null };
    const bad = state.bad.get('') || state.bad.get(artifact.entry);
    if (bad) return { ...base, pass: false, error: bad }; // on every row of it, before anything runs
    const exempt = spec.exempt[backend];
    const missing = exempt ? `exempt: ${exempt}` : await offered(backend);
    if (missing) return { ...base, unsupported: missing };
    try {
      const model = await loadModel(artifact, backend);
      const { inputs, outputs } = state.data;
      const chosen = spec.inputs;
      const times = [];
      const got = [];
      if (chosen.length < WARMED_BY_FIRST) {
        const first = inputs[chosen[0]];
        times.push((await infer(model, artifact, first.values, first.shape)).ms);
      }
      for (const index of chosen) {
        const result = await infer(model, artifact, inputs[index].values, inputs[index].shape);
        times.push(result.ms);
        got.push(result);
      }
      const warm = times.slice(1).sort((a, b) => a - b);
      const verdict = judgeGate(chosen, inputs, outputs, got, artifact.parity_gate);
      return { ...base, ...verdict, pass: verdict.error ? false : verdict.pass, first_ms: times[0],
        warm_ms: warm.length ? warm[Math.floor((warm.length - 1) / 2)] : null };
    } catch (error) {
      return { ...base, pass: false, error: String(error && error.message ? error.message : error).slice(0, 400) };
    }
  }

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function showRow(row) {
    const r = row.result;
    const tr = row.tr;
    tr.textContent = '';
    cell(tr, row.artifact.entry, 'artifact');
    cell(tr, row.backend);
    let verdict = 'pending';
    if (r) verdict = r.unsupported ? 'unsupported' : (r.pass === true ? 'pass' : (r.pass === false ? 'fail' : 'undecided'));
    const td = cell(tr, verdict, verdict === 'undecided' ? 'pending' : verdict);
    const reason = r && (r.unsupported || r.error || (r.pass === null ? 'within the stored reference\'s rounding of the gate' : ''));
    if (reason) {
      const div = document.createElement('div');
      div.className = 'reason';
      div.textContent = reason;
      td.appendChild(div);
    }
    const num = (v, digits) => (v === null || v === undefined ? '–' : (Number.isFinite(v) ? v.toFixed(digits) : 'inf'));
    cell(tr, num(r && r.psnr_db, 1), 'num');
    cell(tr, r && r.max_abs !== null && r.max_abs !== undefined ? r.max_abs.toExponential(2) : '–', 'num');
    cell(tr, gateText(row.artifact.parity_gate), 'gate');
    cell(tr, num(r && r.first_ms, 1), 'num');
    cell(tr, num(r && r.warm_ms, 1), 'num');
    cell(tr, reported(row.artifact, row.backend));
  }

  function results() {
    return { page: 'srconvert self-check', model: state.manifest.source.path, libraries: state.libraries,
      adapter: state.adapter, results: state.rows.map((row) => row.result).filter(Boolean) };
  }

  let running = null;
  async function runAll() {
    if (running) return running;
    running = (async () => {
      $('run-all').disabled = true;
      for (const [i, row] of state.rows.entries()) {
        $('status').textContent = `running ${i + 1} of ${state.rows.length}: ${row.artifact.entry} on ${row.backend}`;
        row.result = await runRow(row);
        showRow(row);
      }
      const all = results();
      const failed = all.results.filter((r) => r.pass === false).length;
      $('status').textContent = `${all.results.length} rows run, ${failed} failed`;
      $('export').disabled = false;
      settle(all);
      return all;
    })();
    return running;
  }

  function exportJson() {
    const blob = new Blob([JSON.stringify(results(), null, 2)], { type: 'application/json' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'srconvert-check.json';
    a.click();
  }

  function describeAdapter(facts) {
    const body = $('adapter').tBodies[0];
    const add = (name, value) => { const tr = body.insertRow(); cell(tr, name); cell(tr, value); };
    add('user agent', navigator.userAgent);
    add('WebGL renderer', facts.webgl || 'no WebGL2');
    const a = facts.adapter;
    add('WebGPU adapter', a ? [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || '(unnamed)' : 'none');
    if (a) {
      add('shader-f16', a.shader_f16 ? 'yes' : 'no');
      add('limits', `${a.max_storage_buffers_per_shader_stage} storage buffers per stage, `
        + `${a.max_storage_buffer_binding_size} B per binding, ${a.max_compute_workgroup_storage_size} B workgroup storage`);
    }
    add('WebNN', 'ml' in navigator ? 'yes' : 'no');
  }

  // Try it: an image in, the chosen artifact on the chosen backend, whole
  // or tiled at the release's patch size and padding.
  function tiling(artifact) {
    const sizes = artifact.input_sizes || {};
    if (sizes.kind === 'fixed') {
      const [h, w] = sizes.fixed.split('x').map(Number);
      return { h, w, padding: (state.manifest.release || {}).padding || 0, forced: true };
    }
    const release = state.manifest.release || {};
    return release.patch_size ? { h: release.patch_size, w: release.patch_size, padding: release.padding || 0 } : null;
  }

  function starts(size, patch, step) {
    if (size <= patch) return [0];
    const out = [];
    for (let s = 0; ; s += step) {
      if (s + patch >= size) { out.push(size - patch); break; }
      out.push(s);
    }
    return out;
  }

  // Overlapping tiles of exactly the patch size (an image smaller than it
  // mirrored out to it, as a tiler pads an edge tile); each tile gives the
  // output of its core, the padding on its inner sides thrown away.
  async function runTiled(model, artifact, image, tile) {
    const [, h, w, c] = image.shape;
    const pad = (v, n) => { const period = 2 * n; const m = ((v % period) + period) % period; return m < n ? m : period - 1 - m; };
    const rows = starts(h, tile.h, tile.h - 2 * tile.padding);
    const cols = starts(w, tile.w, tile.w - 2 * tile.padding);
    let out = null; let scale = 0; let ms = 0;
    for (const [ri, y0] of rows.entries()) {
      for (const [ci, x0] of cols.entries()) {
        const values = new Float32Array(tile.h * tile.w * c);
        for (let y = 0; y < tile.h; y++) for (let x = 0; x < tile.w; x++) for (let k = 0; k < c; k++) {
          values[(y * tile.w + x) * c + k] = image.values[(pad(y0 + y, h) * w + pad(x0 + x, w)) * c + k];
        }
        const result = await infer(model, artifact, values, [1, tile.h, tile.w, c]);
        ms += result.ms;
        scale = result.shape[1] / tile.h;
        if (!out) out = new Float32Array(h * scale * w * scale * c);
        const top = ri === 0 ? 0 : tile.padding; const bottom = ri === rows.length - 1 ? tile.h : tile.h - tile.padding;
        const left = ci === 0 ? 0 : tile.padding; const right = ci === cols.length - 1 ? tile.w : tile.w - tile.padding;
        for (let y = top * scale; y < Math.min(bottom, h - y0) * scale; y++) {
          for (let x = left * scale; x < Math.min(right, w - x0) * scale; x++) {
            for (let k = 0; k < c; k++) {
              out[((y0 * scale + y) * w * scale + x0 * scale + x) * c + k] = result.values[(y * tile.w * scale + x) * c + k];
            }
          }
        }
      }
    }
    return { values: out, shape: [1, h * scale, w * scale, c], ms, tiles: rows.length * cols.length };
  }

  function imageToInput(imageData, channels, [low, high]) {
    const { width, height, data } = imageData;
    const values = new Float32Array(width * height * channels);
    for (let i = 0; i < width * height; i++) {
      if (channels === 1) {
        values[i] = low + ((0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2]) / 255) * (high - low);
      } else {
        // RGB, or RGBA with the image's own alpha (read unpremultiplied: showImage)
        for (let k = 0; k < channels; k++) values[i * channels + k] = low + (data[4 * i + k] / 255) * (high - low);
      }
    }
    return { values, shape: [1, height, width, channels] };
  }

  function outputToImage(output, [low, high]) {
    const [, h, w, c] = output.shape;
    const image = new ImageData(w, h);
    const byte = (v) => Math.round(((v - low) / (high - low)) * 255); // ImageData clamps to 0..255
    for (let i = 0; i < w * h; i++) {
      for (let k = 0; k < 3; k++) image.data[4 * i + k] = byte(output.values[i * c + (c === 1 ? 0 : k)]);
      image.data[4 * i + 3] = c === 4 ? byte(output.values[i * c + 3]) : 255;
    }
    return image;
  }

  function draw(canvas, image) {
    canvas.width = image.width; canvas.height = image.height;
    canvas.getContext('2d').putImageData(image, 0, 0);
  }

  async function showImage(blob) {
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const canvas = $('try-input');
    canvas.width = bitmap.width; canvas.height = bitmap.height;
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 0, 0);
    state.image = context.getImageData(0, 0, bitmap.width, bitmap.height);
    $('try-run').disabled = false;
    $('try-status').textContent = `${bitmap.width}×${bitmap.height} image`;
  }

  async function tryIt() {
    const artifact = state.manifest.artifacts[Number($('try-artifact').value)];
    const backend = $('try-backend').value;
    const tile = tiling(artifact);
    const tiled = tile && (tile.forced || $('try-tiled').checked);
    $('try-status').textContent = 'running…';
    try {
      const model = await loadModel(artifact, backend);
      const input = imageToInput(state.image, state.manifest.model.input_channels, state.manifest.model.input_range);
      const output = tiled ? await runTiled(model, artifact, input, tile) : await infer(model, artifact, input.values, input.shape);
      const image = outputToImage(output, state.manifest.model.output_range);
      draw($('try-output'), image);
      const zoom = $('try-zoom');
      const crop = Math.min(64, image.width, image.height);
      zoom.width = crop * 4; zoom.height = crop * 4;
      const context = zoom.getContext('2d');
      context.imageSmoothingEnabled = false;
      context.drawImage($('try-output'), (image.width - crop) >> 1, (image.height - crop) >> 1, crop, crop, 0, 0, crop * 4, crop * 4);
      const how = tiled ? `${output.tiles} tiles of ${tile.h}×${tile.w}, padding ${tile.padding}` : 'whole image';
      $('try-caption').textContent = `output ${image.width}×${image.height}: ${artifact.entry} on ${backend}, ${how}, ${output.ms.toFixed(0)} ms`;
      $('try-status').textContent = '';
      state.tried = { artifact: artifact.entry, backend, tiled: Boolean(tiled), ms: output.ms, width: image.width,
        height: image.height, rgba: image.data };
      return state.tried;
    } catch (error) {
      $('try-status').textContent = `failed: ${error.message || error}`;
      throw error;
    }
  }

  function setUpTry() {
    const select = $('try-artifact');
    state.manifest.artifacts.forEach((artifact, i) => select.add(new Option(artifact.entry, String(i))));
    const backends = () => {
      const artifact = state.manifest.artifacts[Number(select.value)];
      const chosen = $('try-backend');
      chosen.textContent = '';
      BACKENDS[kindOf(artifact)].forEach((b) => chosen.add(new Option(b, b)));
      const tile = tiling(artifact);
      $('try-tiled').disabled = !tile || tile.forced;
      $('try-tiled').checked = Boolean(tile && tile.forced);
      $('try-tiling').textContent = tile ? `tiled at ${tile.h}×${tile.w}, padding ${tile.padding}${tile.forced ? ' (the artifact takes only that size)' : ''}` : 'tiled (no patch size in this bundle)';
    };
    select.onchange = backends;
    backends();
    $('file').onchange = () => $('file').files[0] && showImage($('file').files[0]);
    const drop = $('drop');
    drop.ondragover = (event) => { event.preventDefault(); drop.classList.add('over'); };
    drop.ondragleave = () => drop.classList.remove('over');
    drop.ondrop = (event) => {
      event.preventDefault();
      drop.classList.remove('over');
      const file = event.dataTransfer.files[0];
      if (file) showImage(file);
    };
    $('try-run').onclick = () => tryIt().catch(() => {});
  }

  async function main() {
    const manifest = await (await fetch('manifest.json', { cache: 'no-store' })).json();
    state.manifest = manifest;
    const reference = await (await fetch('check/reference.json', { cache: 'no-store' })).json();
    state.reference = reference;
    $('model').textContent = manifest.source.path;
    const loaded = await loadLibraries(reference.libraries);
    state.runtimes = window.srconvertRuntimes(loaded.dirs);
    state.adapter = await state.runtimes.facts();
    state.libraries = { from: loaded.from, tfjs: tf.version.tfjs, 'onnxruntime-web': ort.env.versions.web,
      pinned: reference.libraries.scripts.map((lib) => `${lib.package}@${lib.version}`) };
    describeAdapter(state.adapter);
    const libs = $('libraries').tBodies[0];
    for (const lib of reference.libraries.scripts) {
      const tr = libs.insertRow(); cell(tr, `${lib.package} ${lib.version}`); cell(tr, lib.path);
    }
    const tr = libs.insertRow(); cell(tr, 'ran'); cell(tr, `TF.js ${state.libraries.tfjs}, onnxruntime-web ${state.libraries['onnxruntime-web']}, from ${loaded.from}`);
    state.bad = await checkFiles(manifest);
    const data = await (await fetch('check/reference.bin', { cache: 'no-store' })).arrayBuffer();
    state.data = arrays(reference, data);
    const body = $('results').tBodies[0];
    const specs = new Map(reference.artifacts.map((spec) => [spec.entry, spec]));
    manifest.artifacts = manifest.artifacts.filter((artifact) => specs.has(artifact.entry)); // what this page runs
    manifest.artifacts.forEach((artifact) => {
      const spec = specs.get(artifact.entry);
      artifact.parity_gate = spec.gate;
      for (const backend of BACKENDS[kindOf(artifact)]) {
        const row = { artifact, backend, spec, result: null, tr: body.insertRow() };
        state.rows.push(row);
        showRow(row);
      }
    });
    if (reference.storage_psnr_db) {
      $('storage').textContent = `PSNR and max abs are measured against the stored reference, which is itself within `
        + `${reference.storage_error.toExponential(1)} of the source's output (${reference.storage_psnr_db} dB): `
        + 'a reading near that is a perfect match, and every verdict allows for it.';
    }
    const altered = [...state.bad.entries()];
    $('summary').textContent = `${manifest.artifacts.length} artifacts, ${state.rows.length} rows; `
      + (altered.length ? `${altered.length} with a file that differs from manifest.json` : 'every file as manifest.json records it');
    $('run-all').onclick = () => runAll();
    $('export').onclick = exportJson;
    setUpTry();
    window.srconvertPage = { runAll, tryIt, showImage, results };
    if (params.get('run') === 'all') runAll();
  }

  main().catch((error) => {
    $('summary').textContent = `the check could not start: ${error.message || error}`;
    settle({ adapter: state.adapter, results: [], error: String(error.message || error) });
  });
})();
