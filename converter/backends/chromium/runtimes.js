// The runtimes as a web page uses them: a model of a bundle loaded over HTTP
// into TensorFlow.js (webgl, webgpu, wasm) or onnxruntime-web (wasm, the
// native WebGPU provider, JSEP's, WebNN), run on float32 arrays, and what
// the browser's adapter is. One file for both pages that run bundles: the
// browser host's (page.js, for `--browser` parity) and the self-check page
// every bundle ships (a byte-identical copy, check/runtimes.js), so the two
// load and run an artifact the same way.
//
// A classic script over the globals `tf` and `ort` (the libraries' own
// script builds). `srconvertRuntimes(libs)` takes where the libraries' other
// files are: { ortDist, ortDefaultBuild, tfjsWasmDist } (URLs ending in /).
'use strict';

window.srconvertRuntimes = (libs) => {
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

  let wasmPathsSet = false;

  async function useTfjsBackend(backend) {
    if (backend === 'wasm' && !wasmPathsSet) {
      if (!tf.wasm) throw new Error('the TensorFlow.js wasm backend is not loaded in this page');
      tf.wasm.setWasmPaths(libs.tfjsWasmDist);
      wasmPathsSet = true;
    }
    if (tf.getBackend() !== backend && !(await tf.setBackend(backend))) {
      throw new Error(`TensorFlow.js backend ${backend} failed to initialise in this browser`);
    }
    await tf.ready();
  }

  // `customLayers`: the URL of the bundle's ES module of custom layers, for a
  // layers model that has some.
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

  // `ort` (the `onnxruntime-web/webgpu` build: its native WebGPU provider)
  // serves wasm, webgpu and webnn; `jsep` is the WebGPU provider of the
  // package's default build (`import 'onnxruntime-web'`), which many pages
  // use too.
  let defaultBuild = null;

  async function onnxRuntime(backend) {
    if (backend !== 'jsep') return { lib: ort, ep: backend };
    defaultBuild = defaultBuild || (await import(libs.ortDefaultBuild));
    return { lib: defaultBuild, ep: 'webgpu' };
  }

  async function loadOnnx({ url, backend }) {
    const { lib, ep } = await onnxRuntime(backend);
    // One thread, as a page without cross-origin isolation gets.
    lib.env.wasm.numThreads = 1;
    if (lib === ort) lib.env.wasm.wasmPaths = libs.ortDist;
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

  return { facts, useTfjsBackend, loadTfjs, loadOnnx };
};
