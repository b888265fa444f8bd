// JavaScript twin of custom_layers/pixel_unshuffle.py: space-to-depth, NHWC, DCR.
function definePixelUnshuffle(tf) {
  class PixelUnshuffle extends tf.layers.Layer {
    constructor(config = {}) {
      super(config);
      this.scale = config.scale == null ? 2 : config.scale;
    }

    computeOutputShape(inputShape) {
      const [batch, height, width, channels] = inputShape;
      const s = this.scale;
      return [
        batch,
        height == null ? null : height / s,
        width == null ? null : width / s,
        channels == null ? null : channels * s * s,
      ];
    }

    call(inputs) {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const s = this.scale;
      const [n, h, w, c] = x.shape;
      return tf.tidy(() =>
        x.reshape([n, h / s, s, w / s, s * c]).transpose([0, 1, 3, 2, 4]).reshape([n, h / s, w / s, s * s * c]));
    }

    getConfig() {
      return Object.assign({}, super.getConfig(), { scale: this.scale });
    }
  }
  PixelUnshuffle.className = 'PixelUnshuffle';
  return PixelUnshuffle;
}
