"""ISR's RDN (residual dense network).

Layer names follow ISR's `rdn.py`. The head upsamples with `UpSampling2D`
(ISR's 'ups') or a `PixelShuffle` (ISR's 'shuffle', which ISR itself writes
as a Lambda; srconvert uses its registered layer instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NAME = "rdn"


@dataclass(frozen=True)
class Params:
    C: int = 6  # conv layers per residual dense block
    D: int = 20  # residual dense blocks
    G: int = 64  # growth: filters of each dense-block conv
    G0: int = 64  # feature channels
    x: int = 2  # scale
    upscaling: str = "ups"  # "ups" (UpSampling2D) or "shuffle" (PixelShuffle)
    kernel_size: int = 3
    channels: int = 3


def detect(index) -> bool:
    return index.has("F_m1", "F_0", "F_1_1", "LFF_1", "GFF_1", "UPN3", "SR")


def infer(index) -> Params:
    """Hyperparameters from shapes. A pixel-shuffle head shows its scale in
    UPN3's channels; an UpSampling2D head has no weights, so its scale comes
    from ISR's file name (`...-x2_...`) or --arch-params x=N."""
    blocks = index.indices(r"F_(\d+)_(\d+)")
    channels = index.out_channels("SR")
    head = index.out_channels("UPN3") // channels
    if head > 1:
        upscaling, scale = "shuffle", int(round(head**0.5))
    else:
        upscaling, scale = "ups", index.filename_param("x")  # None: --arch-params must say
    return Params(
        C=max(c for _, c in blocks),
        D=max(d for d, _ in blocks),
        G=index.out_channels("F_0"),
        G0=index.out_channels("F_m1"),
        x=scale,
        upscaling=upscaling,
        kernel_size=index.kernel_size("F_m1"),
        channels=channels,
    )


def build(keras: Any, params: Params, name: str = "rdn") -> Any:
    from custom_layers import PIXEL_SHUFFLE

    layers = keras.layers
    k = params.kernel_size

    def conv(filters: int, size: int, layer_name: str):
        return layers.Conv2D(filters, size, padding="same", name=layer_name)

    def residual_dense_blocks(x):
        outputs = []
        for d in range(1, params.D + 1):
            block_in = x
            for c in range(1, params.C + 1):
                f = conv(params.G, k, f"F_{d}_{c}")(x)
                f = layers.Activation("relu", name=f"F_{d}_{c}_Relu")(f)
                x = layers.Concatenate(axis=3, name=f"RDB_Concat_{d}_{c}")([x, f])
            x = conv(params.G, 1, f"LFF_{d}")(x)
            x = layers.Add(name=f"LRL_{d}")([x, block_in])
            outputs.append(x)
        return layers.Concatenate(axis=3, name="LRLs_Concat")(outputs)

    def upsample(x):
        if params.upscaling == "shuffle":
            x = conv(params.channels * params.x**2, 3, "UPN3")(x)
            return PIXEL_SHUFFLE.keras_class(keras)(params.x, name="PixelShuffle")(x)
        x = conv(params.channels, 3, "UPN3")(x)
        return layers.UpSampling2D(size=params.x, name="UPsample")(x)

    lr = keras.Input(shape=(None, None, params.channels), name="LR")
    f_m1 = conv(params.G0, k, "F_m1")(lr)
    f_0 = conv(params.G, k, "F_0")(f_m1)
    fd = residual_dense_blocks(f_0)
    gff = conv(params.G0, 1, "GFF_1")(fd)
    gff = conv(params.G0, k, "GFF_2")(gff)
    fdf = layers.Add(name="FDF")([gff, f_m1])
    x = layers.Activation("relu", name="UPN1_Relu")(conv(64, 5, "UPN1")(fdf))
    x = layers.Activation("relu", name="UPN2_Relu")(conv(32, 3, "UPN2")(x))
    sr = conv(params.channels, k, "SR")(upsample(x))
    return keras.Model(inputs=lr, outputs=sr, name=name)
