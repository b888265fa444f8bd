// JavaScript twin of custom_layers/multiply_beta.py: x * beta.
function defineMultiplyBeta(tf) {
  class MultiplyBeta extends tf.layers.Layer {
    constructor(config = {}) {
      super(config);
      this.beta = config.beta == null ? 0.2 : config.beta;
    }

    computeOutputShape(inputShape) {
      return inputShape;
    }

    call(inputs) {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.tidy(() => tf.mul(x, this.beta));
    }

    getConfig() {
      return Object.assign({}, super.getConfig(), { beta: this.beta });
    }
  }
  MultiplyBeta.className = 'MultiplyBeta';
  return MultiplyBeta;
}
