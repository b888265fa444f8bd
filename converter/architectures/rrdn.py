"""ISR's RRDN (residual-in-residual dense network, ESRGAN's generator).

Layer names follow ISR's `rrdn.py`, so weights trained with ISR load by name.
Upsampling is a `PixelShuffle`, residuals are scaled by `MultiplyBeta`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NAME = "rrdn"


@dataclass(frozen=True)
class Params:
    C: int = 4  # conv layers per dense block
    D: int = 3  # dense blocks per RRDB
    G: int = 32  # growth: filters of each dense-block conv
    G0: int = 32  # feature channels between blocks
    T: int = 10  # RRDB blocks
    x: int = 4  # scale
    beta: float = 0.2
    kernel_size: int = 3
    channels: int = 3


def detect(index) -> bool:
    return index.has("Pre_blocks_conv", "F_1_1_1", "LFF_1_1", "PreShuffle", "SR")


def infer(index) -> Params:
    """Every hyperparameter from layer names and weight shapes; beta has no
    weight, so it is ISR's 0.2 unless --arch-params says otherwise."""
    blocks = index.indices(r"F_(\d+)_(\d+)_(\d+)")
    channels = index.out_channels("SR")
    shuffled = index.out_channels("PreShuffle") // channels
    scale = int(round(shuffled**0.5))
    return Params(
        C=max(c for _, _, c in blocks),
        D=max(d for _, d, _ in blocks),
        G=index.out_channels("F_1_1_1"),
        G0=index.out_channels("Pre_blocks_conv"),
        T=max(t for t, _, _ in blocks),
        x=scale,
        kernel_size=index.kernel_size("Pre_blocks_conv"),
        channels=channels,
    )


def build(keras: Any, params: Params, name: str = "rrdn") -> Any:
    from custom_layers import MULTIPLY_BETA, PIXEL_SHUFFLE

    layers = keras.layers
    pixel_shuffle = PIXEL_SHUFFLE.keras_class(keras)
    multiply_beta = MULTIPLY_BETA.keras_class(keras)
    k = params.kernel_size

    def conv(filters: int, size: int, layer_name: str):
        return layers.Conv2D(filters, size, padding="same", name=layer_name)

    def dense_block(x, t: int, d: int):
        for c in range(1, params.C + 1):
            f = conv(params.G, k, f"F_{t}_{d}_{c}")(x)
            f = layers.Activation("relu", name=f"F_{t}_{d}_{c}_Relu")(f)
            x = layers.Concatenate(axis=3, name=f"RDB_Concat_{t}_{d}_{c}")([x, f])
        return conv(params.G0, 3, f"LFF_{t}_{d}")(x)

    def rrdb(block_in, t: int):
        x = block_in
        for d in range(1, params.D + 1):
            lff = dense_block(x, t, d)
            lff = multiply_beta(params.beta, name=f"LFF_beta_{t}_{d}")(lff)
            x = layers.Add(name=f"LRL_{t}_{d}")([x, lff])
        x = multiply_beta(params.beta, name=f"RRDB_beta_{t}")(x)
        return layers.Add(name=f"RRDB_{t}_out")([block_in, x])

    lr = keras.Input(shape=(None, None, params.channels), name="LR_input")
    pre = conv(params.G0, k, "Pre_blocks_conv")(lr)
    x = pre
    for t in range(1, params.T + 1):
        x = rrdb(x, t)
    post = conv(params.G0, 3, "post_blocks_conv")(x)
    grl = layers.Add(name="GRL")([post, pre])
    ps = conv(params.channels * params.x**2, 3, "PreShuffle")(grl)
    ps = pixel_shuffle(params.x, name="PixelShuffle")(ps)
    sr = conv(params.channels, k, "SR")(ps)
    return keras.Model(inputs=lr, outputs=sr, name=name)
