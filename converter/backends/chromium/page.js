// The page side of the browser host: load a bundle over HTTP into one of the
// page's runtimes (runtimes.js), run it, report what the adapter is. Tensors
// cross the DevTools protocol as base64 float32.
'use strict';

(() => {
  const models = new Map();

  function decode(b64) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return new Float32Array(bytes.buffer);
  }

  function encode(values) {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }

  // The loaders, shared with the self-check page a bundle ships (runtimes.js).
  const { facts, useTfjsBackend, loadTfjs, loadOnnx } = window.srconvertRuntimes({
    ortDist: '/npm/onnxruntime-web/dist/',
    ortDefaultBuild: '/npm/onnxruntime-web/dist/ort.bundle.min.mjs',
    tfjsWasmDist: null, // the host page runs TF.js on webgl and webgpu only (Node's lane has wasm)
  });

  function loadScript(url) {
    return new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = url;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${url}`));
      document.head.appendChild(script);
    });
  }

  // UpscalerJS as a page that uses it loads it: its UMD build (after its
  // default model's, which it reads from a global) over the page's TF.js.
  let upscalerjs = null;

  async function Upscaler() {
    if (!upscalerjs) {
      await loadScript('/npm/@upscalerjs/default-model/dist/umd/index.min.js');
      await loadScript('/npm/upscaler/dist/browser/umd/upscaler.min.js');
      upscalerjs = window.Upscaler.default || window.Upscaler;
    }
    return upscalerjs;
  }

  // An npm package srconvert wrote, through the real client: `model.js` is
  // the package's entry, imported as an app's bundler would resolve it.
  // Pixels in and out are 0-255, as UpscalerJS takes and gives them.
  async function loadUpscaler({ url, backend }) {
    await useTfjsBackend(backend);
    const Ctor = await Upscaler();
    const { default: model } = await import(url);
    const upscaler = new Ctor({ model });
    await upscaler.ready;
    return {
      dispose: () => upscaler.dispose(),
      run: async (data, shape, { patchSize, padding } = {}) => {
        await useTfjsBackend(backend);
        const image = tf.tensor3d(data, shape.slice(-3), 'float32');
        const tiling = patchSize ? { patchSize, padding } : {};
        const y = await upscaler.execute(image, { output: 'tensor', ...tiling });
        const values = await y.data();
        const outShape = [1, ...y.shape];
        tf.dispose([image, y]);
        return { values, shape: outShape };
      },
    };
  }

  // transformers.js's image-to-image pipeline on a model folder, as a page
  // imports it (its browser bundle, with its own onnxruntime-web's wasm
  // served from the page's origin, not its CDN default): pixels in and out.
  let transformers = null;

  async function loadPipeline({ url, dtype, backend }) {
    if (!transformers) {
      transformers = await import('/npm/@huggingface/transformers/dist/transformers.min.js');
      const ortDist = '/npm/@huggingface/transformers/node_modules/onnxruntime-web/dist/';
      transformers.env.backends.onnx.wasm.wasmPaths = {
        mjs: `${ortDist}ort-wasm-simd-threaded.asyncify.mjs`, wasm: `${ortDist}ort-wasm-simd-threaded.asyncify.wasm`,
      };
      transformers.env.backends.onnx.wasm.numThreads = 1;
      transformers.env.allowRemoteModels = false; // the bundle's folder over the page's origin, as a local model
      transformers.env.allowLocalModels = true;
      transformers.env.useBrowserCache = false;
    }
    // A path, not a URL: transformers.js 4.3.1 checks a local model's
    // optional files (preprocessor_config.json) only for paths, so under an
    // http URL it finds no processor and the pipeline fails on its first call.
    const folder = new URL(url).pathname.replace(/\/+$/, '');
    transformers.env.localModelPath = `${folder.slice(0, folder.lastIndexOf('/'))}/`;
    const upscale = await transformers.pipeline('image-to-image', folder.slice(folder.lastIndexOf('/') + 1),
      { dtype, device: backend });
    return {
      dispose: () => upscale.dispose(),
      run: async (data, shape) => {
        const [, height, width, channels] = shape;
        const output = await upscale(new transformers.RawImage(Uint8ClampedArray.from(data), width, height, channels));
        return { values: Float32Array.from(output.data), shape: [1, output.height, output.width, output.channels] };
      },
    };
  }

  const LOADERS = { onnx: loadOnnx, upscalerjs: loadUpscaler, layers: loadTfjs, graph: loadTfjs,
    transformersjs: loadPipeline };

  async function load(request) {
    const model = await LOADERS[request.kind](request);
    models.set(request.handle, model);
    return {};
  }

  async function infer({ handle, shape, data, options }) {
    const model = models.get(handle);
    if (!model) throw new Error(`no model loaded as ${handle}`);
    const x = decode(data);
    const start = performance.now();
    const { values, shape: outShape } = await model.run(x, shape, options);
    const ms = performance.now() - start;
    return { shape: Array.from(outShape, Number), data: encode(Float32Array.from(values)), ms };
  }

  async function unload({ handle }) {
    const model = models.get(handle);
    if (model) await model.dispose();
    models.delete(handle);
    return {};
  }

  window.srconvert = { ready: true, facts, load, infer, unload };
})();
