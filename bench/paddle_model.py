"""Build a PaddleOCR recognition-model directory from the PP-OCRv6 recogniser bundled in the rapidocr wheel.

PaddleOCR downloads its models at run time, which machines without internet cannot do. This converts the
ONNX model that ships inside rapidocr (the default engine's network) to Paddle Inference with x2paddle and
writes the directory layout PaddleOCR's `TextRecognition(model_dir=...)` loads, so the `paddleocr` engine can
be run and compared offline: same network, so it must read what `rapidocr` reads (`tests/unit/test_ocr.py`).

    pip install 'shiftclipper[paddle]' x2paddle
    python -m bench.paddle_model /tmp/paddle-rec        # then SHIFTCLIPPER_PADDLEOCR_MODEL_DIR=/tmp/paddle-rec
    python bench/ocr_accuracy.py --engines paddleocr --paddle-model-dir /tmp/paddle-rec --no-baseline
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import types
from pathlib import Path

MODEL_NAME = "PP-OCRv6_small_rec"
"""PaddleOCR only loads directories whose `Global.model_name` it knows; this is the bundled model's own name."""


def build(model_dir: Path, onnx_path: Path | None = None) -> Path:
    """Convert (x2paddle, no network) and write `inference.json`, `inference.pdiparams` and `inference.yml`."""
    import onnx
    import yaml

    from shiftclipper_tracker.rec_model import bundled_rapidocr_model

    onnx_path = onnx_path or bundled_rapidocr_model()
    keys = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}["character"].splitlines()
    _shim_onnx_for_x2paddle()
    from x2paddle.convert import onnx2paddle

    model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        onnx2paddle(str(onnx_path), work, disable_feedback=True)  # disable_feedback: x2paddle phones home otherwise
        converted = Path(work) / "inference_model"
        shutil.copy(converted / "model.json", model_dir / "inference.json")
        shutil.copy(converted / "model.pdiparams", model_dir / "inference.pdiparams")
    config = {
        "Global": {"model_name": MODEL_NAME},
        "PreProcess": {
            "transform_ops": [
                {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},  # else PaddleX flips arrays to RGB
                {"RecResizeImg": {"image_shape": [3, 48, 320]}},  # PaddleX requires it
            ]
        },
        "PostProcess": {"name": "CTCLabelDecode", "character_dict": keys},  # it adds blank and space itself
    }
    (model_dir / "inference.yml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
    return model_dir


def _shim_onnx_for_x2paddle() -> None:
    """x2paddle 1.6 imports `onnx.version` and `onnx.mapping`, which onnx 1.17 removed (its CLI then exits 0 having
    done nothing); both are rebuilt from what onnx still has."""
    import onnx
    from onnx import TensorProto, helper

    if not hasattr(onnx, "version"):
        onnx.version = types.SimpleNamespace(version=onnx.__version__)  # type: ignore[attr-defined]
    try:
        import onnx.mapping
    except ImportError:
        mapping = types.ModuleType("onnx.mapping")
        table = {}
        for value in TensorProto.DataType.values():
            try:
                table[value] = helper.tensor_dtype_to_np_dtype(value)
            except (KeyError, ValueError):
                continue  # UNDEFINED and types numpy has no dtype for
        mapping.TENSOR_TYPE_TO_NP_TYPE = table  # type: ignore[attr-defined]
        sys.modules["onnx.mapping"] = mapping
        onnx.mapping = mapping


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path, help="directory to write (created)")
    parser.add_argument("--onnx", type=Path, default=None, help="another PP-OCR recogniser ONNX (default: bundled)")
    args = parser.parse_args(argv)
    print(build(args.model_dir, args.onnx))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
