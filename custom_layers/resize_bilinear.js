// JavaScript twin of custom_layers/resize_bilinear.py: bilinear upsampling with
// half-pixel centres (TF.js's UpSampling2D leaves them off, unlike Keras).
function defineResizeBilinear(tf) {
  class ResizeBilinear extends tf.layers.Layer {
    constructor(config = {}) {
      super(config);
      const size = config.size == null ? [2, 2] : config.size;
      this.size = Array.isArray(size) ? size : [size, size];
    }

    computeOutputShape(inputShape) {
      const [batch, height, width, channels] = inputShape;
      return [batch, height == null ? null : height * this.size[0], width == null ? null : width * this.size[1], channels];
    }

    call(inputs) {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const [, h, w] = x.shape;
      return tf.tidy(() => tf.image.resizeBilinear(x, [h * this.size[0], w * this.size[1]], false, true));
    }

    getConfig() {
      return Object.assign({}, super.getConfig(), { size: this.size });
    }
  }
  ResizeBilinear.className = 'ResizeBilinear';
  return ResizeBilinear;
}
