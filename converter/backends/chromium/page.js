// The page side of the browser host: load a bundle over HTTP into one of the
// page's runtimes, run it, report what the adapter is. Tensors cross the
// DevTools protocol as base64 float32.
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

  async function facts() {
    const adapter = navigator.gpu ? await navigator.gpu.requestAdapter() : null;
    const info = adapter ? adapter.info || {} : {};
    const gl = document.createElement('canvas').getContext('webgl2');
    const debug = gl && gl.getExtension('WEBGL_debug_renderer_info');
    return {
      tfjs: tf.version.tfjs,
      ortweb: ort.env.versions.web,
      webgl: gl ? gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER) : null,
      adapter: adapter && {
        vendor: info.vendor || '', architecture: info.architecture || '', description: info.description || '',
        shader_f16: adapter.features.has('shader-f16'),
        max_storage_buffers_per_shader_stage: adapter.limits.maxStorageBuffersPerShaderStage,
        max_storage_buffer_binding_size: adapter.limits.maxStorageBufferBindingSize,
        max_compute_workgroup_storage_size: adapter.limits.maxComputeWorkgroupStorageSize,
      },
    };
  }

  async function useTfjsBackend(backend) {
    if (tf.getBackend() !== backend && !(await tf.setBackend(backend))) {
      throw new Error(`TensorFlow.js backend ${backend} failed to initialise in Chromium`);
    }
    await tf.ready();
  }

  async function loadTfjs({ kind, url, customLayers, backend }) {
    await useTfjsBackend(backend);
    if (customLayers) (await import(customLayers)).registerCustomLayers(tf);
    const model = kind === 'graph' ? await tf.loadGraphModel(url) : await tf.loadLayersModel(url);
    return {
      dispose: () => model.dispose(),
      run: async (data, shape) => {
        await useTfjsBackend(backend);
        const x = tf.tensor(data, shape, 'float32');
        let y = kind === 'graph' ? model.execute(x) : model.predict(x);
        if (Array.isArray(y)) y = y[0];
        const values = await y.data();
        const outShape = y.shape;
        tf.dispose([x, y]);
        return { values, shape: outShape };
      },
    };
  }

  // `onnxruntime-web/webgpu` (the global `ort`: native WebGPU EP) serves the
  // wasm and webgpu backends; `jsep` is the WebGPU EP of the package's
  // default build (`import 'onnxruntime-web'`), which many pages use too.
  let defaultBuild = null;

  async function onnxRuntime(backend) {
    if (backend !== 'jsep') return { lib: ort, ep: backend };
    defaultBuild = defaultBuild || (await import('/npm/onnxruntime-web/dist/ort.bundle.min.mjs'));
    return { lib: defaultBuild, ep: 'webgpu' };
  }

  async function loadOnnx({ url, backend }) {
    const { lib, ep } = await onnxRuntime(backend);
    // One thread, as a page without cross-origin isolation gets.
    lib.env.wasm.numThreads = 1;
    if (lib === ort) lib.env.wasm.wasmPaths = '/npm/onnxruntime-web/dist/';
    lib.env.logLevel = 'error';
    const session = await lib.InferenceSession.create(url, { executionProviders: [ep] });
    const [input] = session.inputNames;
    const [output] = session.outputNames;
    return {
      dispose: () => session.release(),
      run: async (data, shape) => {
        const result = await session.run({ [input]: new lib.Tensor('float32', data, shape) });
        const tensor = result[output];
        const values = tensor.location === 'cpu' ? tensor.data : await tensor.getData();
        return { values: Float32Array.from(values), shape: tensor.dims };
      },
    };
  }

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

  const LOADERS = { onnx: loadOnnx, upscalerjs: loadUpscaler, layers: loadTfjs, graph: loadTfjs };

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
