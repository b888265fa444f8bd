"""A user's own custom layer, as `--custom-layer user_layer_example:Brighten`
loads it: a tf_keras layer plus its JavaScript twin in TFJS_SOURCE."""

import tf_keras


class Brighten(tf_keras.layers.Layer):
    TFJS_SOURCE = """
function defineBrighten(tf) {
  class Brighten extends tf.layers.Layer {
    constructor(config) { super(config); this.offset = config.offset; }
    call(inputs) { return tf.tidy(() => tf.add(Array.isArray(inputs) ? inputs[0] : inputs, this.offset)); }
    getConfig() { return Object.assign({}, super.getConfig(), { offset: this.offset }); }
  }
  Brighten.className = 'Brighten';
  return Brighten;
}
"""

    def __init__(self, offset=0.1, **kwargs):
        super().__init__(**kwargs)
        self.offset = float(offset)

    def call(self, inputs):
        return inputs + self.offset

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}
