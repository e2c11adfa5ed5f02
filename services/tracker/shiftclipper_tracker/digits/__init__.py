"""Our own jersey-digit recogniser: synthetic renderer, small CNN, training script, ONNX inference.

Layout (docs/ocr.md):
- `render.py`  synthetic player crops with a known number (training data; never the evaluation crops)
- `labels.py`  the label space (110 numbers + "no number") and the shared torso-window preprocessing
- `model.py`   the CNN (torch; training only)
- `train.py`   `python -m shiftclipper_tracker.digits.train` renders, trains, exports `jersey_digits.onnx`
- `infer.py`   onnxruntime wrapper used by `JerseyReader(engine="digits")` (no torch at run time)
"""
