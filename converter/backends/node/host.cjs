// srconvert's Node host: one long-lived process that loads bundles into the
// JavaScript runtimes (TensorFlow.js, onnxruntime-web) and runs them.
//
// It speaks protocol.cjs; tensors travel as base64 float32.
'use strict';

const fs = require('fs');
const path = require('path');
const { serve } = require('./protocol.cjs');

let tf = null;
let ort = null;
let transformers = null;
const models = new Map();

// A host serves one lane and loads only its runtime: TensorFlow.js and its
// wasm backend for "tfjs", onnxruntime-web (on first load) for "ortweb".
async function init({ backend, lane }) {
  if (lane === 'ortweb') return { ortweb: packageVersion('onnxruntime-web') };
  if (lane === 'transformersjs') {
    transformers = await import('@huggingface/transformers');
    transformers.env.allowRemoteModels = false; // a folder on disk, as a user's offline app loads it
    transformers.env.allowLocalModels = true;
    return { transformersjs: packageVersion('@huggingface/transformers') };
  }
  tf = require('@tensorflow/tfjs');
  if (backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(backend))) throw new Error(`TensorFlow.js backend ${backend} failed to initialise`);
  await tf.ready();
  return { tfjs: tf.version.tfjs, backend: tf.getBackend() };
}

// onnxruntime-web's "exports" hide its package.json from require().
function packageVersion(name) {
  const main = require.resolve(name);
  const root = main.slice(0, main.lastIndexOf(`node_modules${path.sep}${name}`) + `node_modules${path.sep}${name}`.length);
  return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
}

// Read a TFJS bundle from disk the way a browser fetches it: model.json, then
// the shards its weightsManifest names (which must stay inside the folder).
function readBundle(modelJson) {
  const dir = path.dirname(path.resolve(modelJson));
  const doc = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const weightSpecs = [];
  const buffers = [];
  for (const group of doc.weightsManifest || []) {
    for (const p of group.paths) {
      const file = path.resolve(dir, p);
      if (!file.startsWith(dir + path.sep)) throw new Error(`weights path ${p} leaves the bundle folder`);
      buffers.push(fs.readFileSync(file));
    }
    weightSpecs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  return {
    modelTopology: doc.modelTopology,
    weightSpecs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
    format: doc.format,
    generatedBy: doc.generatedBy,
    convertedBy: doc.convertedBy,
    signature: doc.signature,
    userDefinedMetadata: doc.userDefinedMetadata,
    modelInitializer: doc.modelInitializer,
  };
}

async function loadTfjs(kind, modelJson, customLayers) {
  if (customLayers) require(path.resolve(customLayers)).registerCustomLayers(tf);
  const artifacts = readBundle(modelJson);
  const handler = { load: async () => artifacts };
  const model = kind === 'graph' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  return {
    dispose: () => model.dispose(),
    run: async (data, shape) => {
      const x = tf.tensor(data, shape, 'float32');
      let y = kind === 'graph' ? model.execute(x) : model.predict(x);
      if (Array.isArray(y)) y = y[0];
      else if (!(y instanceof tf.Tensor)) y = Object.values(y)[0];
      const values = await y.data();
      const outShape = y.shape;
      tf.dispose([x, y]);
      return { values, shape: outShape };
    },
  };
}

// onnxruntime-web's wasm backend as a browser page runs it: one thread, since
// pages without cross-origin isolation get no SharedArrayBuffer.
async function loadOnnx(modelPath) {
  if (!ort) {
    ort = require('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
  }
  const session = await ort.InferenceSession.create(fs.readFileSync(modelPath), { executionProviders: ['wasm'] });
  const [input] = session.inputNames;
  const [output] = session.outputNames;
  return {
    dispose: () => session.release(),
    run: async (data, shape) => {
      const result = await session.run({ [input]: new ort.Tensor('float32', data, shape) });
      return { values: result[output].data, shape: result[output].dims };
    },
  };
}

// transformers.js's own image-to-image pipeline on a model folder, with the
// dtype that picks the artifact's file: pixels in (0-255, HWC), pixels out.
async function loadPipeline(folder, dtype) {
  transformers.env.localModelPath = `${path.dirname(path.resolve(folder))}${path.sep}`;
  const upscale = await transformers.pipeline('image-to-image', path.basename(folder), { dtype, device: 'cpu' });
  return {
    dispose: () => upscale.dispose(),
    run: async (data, shape) => {
      const [, height, width, channels] = shape;
      const image = new transformers.RawImage(Uint8ClampedArray.from(data), width, height, channels);
      const output = await upscale(image);
      return { values: Float32Array.from(output.data), shape: [1, output.height, output.width, output.channels] };
    },
  };
}

async function load({ handle, kind, modelJson, customLayers, dtype }) {
  let model = null;
  if (kind === 'onnx') model = await loadOnnx(modelJson);
  else if (kind === 'transformersjs') model = await loadPipeline(modelJson, dtype);
  else model = await loadTfjs(kind, modelJson, customLayers);
  models.set(handle, model);
  return {};
}

function decode(b64) {
  const bytes = Buffer.from(b64, 'base64');
  return Float32Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
}

async function infer({ handle, shape, data }) {
  const model = models.get(handle);
  if (!model) throw new Error(`no model loaded as ${handle}`);
  const x = decode(data);
  const start = performance.now();
  const { values, shape: outShape } = await model.run(x, shape);
  const ms = performance.now() - start;
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return { shape: Array.from(outShape, Number), data: bytes.toString('base64'), ms };
}

async function unload({ handle }) {
  const model = models.get(handle);
  if (model) await model.dispose();
  models.delete(handle);
  return {};
}

serve({ init, load, infer, unload });
