// An independent, hand-written implementation of srconvert's two custom
// layers, registered under their plain names the way UpscalerJS-style apps
// do. It shares no code with custom_layers/*.js: PixelShuffle is built from
// reshape/transpose instead of depthToSpace, MultiplyBeta from a scalar.
'use strict';

function registerCustomLayers(tf) {
  class PixelShuffle extends tf.layers.Layer {
    constructor(config) {
      super(config);
      this.scale = config.scale;
    }
    computeOutputShape([b, h, w, c]) {
      const s = this.scale;
      return [b, h && h * s, w && w * s, c / (s * s)];
    }
    call(inputs) {
      return tf.tidy(() => {
        const x = Array.isArray(inputs) ? inputs[0] : inputs;
        const [b, h, w, c] = x.shape;
        const s = this.scale;
        const out = c / (s * s);
        // DCR order, as TensorFlow's depth_to_space: channel = (dy * s + dx) * out + k.
        return x.reshape([b, h, w, s, s, out]).transpose([0, 1, 3, 2, 4, 5]).reshape([b, h * s, w * s, out]);
      });
    }
    getConfig() {
      return { ...super.getConfig(), scale: this.scale };
    }
    static get className() {
      return 'PixelShuffle';
    }
  }

  class MultiplyBeta extends tf.layers.Layer {
    constructor(config) {
      super(config);
      this.beta = config.beta;
    }
    call(inputs) {
      return tf.tidy(() => tf.scalar(this.beta).mul(Array.isArray(inputs) ? inputs[0] : inputs));
    }
    getConfig() {
      return { ...super.getConfig(), beta: this.beta };
    }
    static get className() {
      return 'MultiplyBeta';
    }
  }

  tf.serialization.registerClass(PixelShuffle);
  tf.serialization.registerClass(MultiplyBeta);
}

module.exports = { registerCustomLayers };
