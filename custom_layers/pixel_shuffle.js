// JavaScript twin of custom_layers/pixel_shuffle.py: tf.depthToSpace, NHWC, DCR.
function definePixelShuffle(tf) {
  class PixelShuffle extends tf.layers.Layer {
    constructor(config = {}) {
      super(config);
      this.scale = config.scale == null ? 2 : config.scale;
    }

    computeOutputShape(inputShape) {
      const [batch, height, width, channels] = inputShape;
      const s = this.scale;
      return [
        batch,
        height == null ? null : height * s,
        width == null ? null : width * s,
        channels == null ? null : channels / (s * s),
      ];
    }

    call(inputs) {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.tidy(() => tf.depthToSpace(x, this.scale, 'NHWC'));
    }

    getConfig() {
      return Object.assign({}, super.getConfig(), { scale: this.scale });
    }
  }
  PixelShuffle.className = 'PixelShuffle';
  return PixelShuffle;
}
