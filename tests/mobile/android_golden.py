"""Golden vectors for the Android app's Kotlin core (``mobile_demo/android/core``).

:func:`write_golden` writes, for real bundled emoji composed into camera-like frames, what
:mod:`keras_i2i.runtime` does with them for several ``model.json`` entries (uint8 pixels,
float [-1, 1], a quantized uint8 input, non-square models, enlarging and mixed resizes):
the frame, the crop box, the preprocessed input tensor, a recorded model output, its
postprocessed pixels and those pixels resized back to the box. The Kotlin tests
(``GoldenTest``) read the same files and must produce the same bytes. Nothing is stored in
git: the files are written at test time (``python -m tests.mobile.android_golden DIR``).

Enlarging (``INTER_CUBIC``) is generated with OpenCV's IPP acceleration turned off: x86
builds of ``opencv-python`` route 8-bit bicubic resizes through Intel IPP, whose rounding
differs from OpenCV's own code by at most one level (about 8% of the values), and OpenCV on
ARM, like the phone, has no IPP. Shrinking (``INTER_AREA``, the camera's path) is the same
with and without IPP.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
EMOJI = ROOT / "keras_i2i" / "data" / "bundled" / "emoji"

#: (file, io, input shape, dtype, range, quantization): the model.json entries of the cases (io "float"
#: with a quantized uint8 tensor: real values in [-1, 1] stored as uint8).
MODELS = [
    ("pixels32.tflite", "uint8", [1, 32, 32, 3], "uint8", [0, 255], None),
    ("float48.tflite", "float", [1, 48, 48, 3], "float32", [-1, 1], None),
    ("float24x40.tflite", "float", [1, 24, 40, 3], "float32", [-1, 1], None),
    ("quant30.tflite", "float", [1, 30, 30, 3], "uint8", [-1, 1], {"scale": 2 / 255, "zero_point": 128}),
    ("pixels96.tflite", "uint8", [1, 96, 96, 3], "uint8", [0, 255], None),
    ("float80x40.tflite", "float", [1, 80, 40, 3], "float32", [-1, 1], None),
]


def _emoji(count: int = 4) -> list[np.ndarray]:
    from PIL import Image

    half = count // 2
    files = sorted((EMOJI / "testA").glob("*.png"))[:half] + sorted((EMOJI / "testB").glob("*.png"))[-half:]
    return [np.asarray(Image.open(f).convert("RGB")) for f in files]


def _frames(images: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Camera-like frames from real emoji: the image itself, a wide strip, a 4:3 frame."""
    a, b, c, d = images
    wide = np.concatenate([a, b, c], axis=1)[:, :150]  # 64 x 150
    big = np.repeat(np.repeat(np.concatenate([b, c], axis=1), 3, axis=0), 3, axis=1)[:, :256]  # 192 x 256 (4:3)
    odd = np.concatenate([d, a], axis=0)[:101, 5:58]  # 101 x 53, tall
    return {"emoji": a, "wide": wide, "camera": big, "tall": odd}


def _entry(file, io, shape, dtype, value_range, quant) -> dict:
    """A ``model.json`` entry written through the schema's own writers (as export does)."""
    from keras_i2i.directions import Direction
    from keras_i2i.runtime.metadata import direction_fields, tensor_entry

    tensor = tensor_entry({"name": "image", "shape": shape, "dtype": dtype, "quantization": quant}, io)
    assert tensor["range"] == value_range, (file, tensor["range"])
    direction = Direction(file.split(".")[0], ("a",), "b", {})
    return {"name": "golden", "model": "cyclegan", **direction_fields(direction), "file": file, "format": "tflite",
            "runtime": "litert", "io": io, "input": tensor, "output": dict(tensor), "quantization": {"mode": "fp32"}}


def _recorded_output(spec, rng) -> np.ndarray:
    """A stand-in model output in the output's convention, with values beyond the range."""
    if spec.dtype == "float32":
        return rng.normal(0.0, 0.7, spec.shape).astype(np.float32)
    return rng.integers(0, 256, spec.shape, dtype=np.uint8)


def write_golden(out_dir: Path) -> dict:
    """Write ``model.json``, ``cases.json`` and the binary files of every case to ``out_dir``."""
    from keras_i2i.runtime.imaging import resize, resizer
    from keras_i2i.runtime.metadata import tensor_spec
    from keras_i2i.runtime.translator import Translator

    if resizer() != "opencv":
        raise RuntimeError("The golden vectors follow the runtime's OpenCV resize; install opencv-python-headless.")
    import cv2

    use_ipp = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    try:
        return _write(Path(out_dir), resize, tensor_spec, Translator)
    finally:
        cv2.ipp.setUseIPP(use_ipp)


def _write(out_dir: Path, resize, tensor_spec, Translator) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = [_entry(*m) for m in MODELS]
    (out_dir / "model.json").write_text(json.dumps({"schema": "keras_i2i.export/1", "models": entries}, indent=2))
    frames = _frames(_emoji())
    for name, frame in frames.items():
        (out_dir / f"{name}.rgb").write_bytes(np.ascontiguousarray(frame).tobytes())
    rng = np.random.default_rng(18)
    cases = []
    plan = [(f, m, "crop") for f in frames for m in range(len(MODELS))]
    plan += [("wide", 4, "stretch"), ("tall", 1, "stretch"), ("camera", 0, "stretch")]
    for frame_name, index, mode in plan:
        entry = entries[index]
        spec_in, spec_out = tensor_spec(entry, "input", "golden"), tensor_spec(entry, "output", "golden")
        translator = Translator(Path(entry["file"]), None, entry, spec_in, spec_out, resize=mode)
        frame = frames[frame_name]
        top, left, box_h, box_w = translator.crop_box(*frame.shape[:2])
        region = frame[top:top + box_h, left:left + box_w]
        x = translator.preprocess(resize(region, spec_in.width, spec_in.height))
        raw = _recorded_output(spec_out, rng)
        pixels = translator.postprocess(raw)
        final = resize(pixels, box_w, box_h)
        case = f"{frame_name}-{entry['direction']}-{mode}"
        files = {"input": x, "output": raw, "pixels": pixels, "final": final}
        for key, array in files.items():
            little_endian = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"))
            (out_dir / f"{case}.{key}.bin").write_bytes(little_endian.tobytes())
        cases.append({"name": case, "frame": f"{frame_name}.rgb", "frame_width": frame.shape[1],
                      "frame_height": frame.shape[0], "model": entry["file"], "crop": mode == "crop",
                      "box": [top, left, box_h, box_w], **{k: f"{case}.{k}.bin" for k in files}})
    manifest = {"cases": cases}
    (out_dir / "cases.json").write_text(json.dumps(manifest, indent=2))
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.mobile.android_golden OUT_DIR")
    print(f"{len(write_golden(Path(sys.argv[1]))['cases'])} golden cases in {sys.argv[1]}")
