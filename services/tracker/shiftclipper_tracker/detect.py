"""Person detection + ByteTrack adapter around Ultralytics YOLO. Create ONE `PersonTracker` per process.

Offline: importing this module puts Ultralytics in offline mode before Ultralytics is imported (env
`YOLO_OFFLINE=1`, `YOLO_AUTOINSTALL=False`) and `_force_offline()` also patches the already-computed module
flags, so neither the analytics/sync events, the hub, the pip auto-install in `check_requirements` nor a
weights download can run. Weights must be a local file (`.pt`, `.onnx`, `.engine`, `.tflite`).

Input size: `.tflite` weights (a YOLOv8 LiteRT export) are run by our own `TfliteYolo`, which rewrites the
graph for any input size, so `imgsz` (the long side) really applies and a 16:9 frame is not letterboxed into
a square; other formats go through Ultralytics' `predict`. `PersonTracker.input_size` says which size ran.

Tracking: Ultralytics' `BYTETracker` is driven directly from `predict` results (not `model.track`), so a
batch of frames can be detected at once on a GPU and then fed to the tracker in order.
"""

from __future__ import annotations

import os

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("YOLO_VERBOSE", "False")

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .core.observations import Box
from .tflite_yolo import TfliteYolo

PERSON_CLASS = 0
"""COCO class id of `person`."""
DEFAULT_CONF = 0.1
"""Detection threshold: must not exceed ByteTrack's low threshold so its second association sees weak boxes."""
SUPPORTED_SUFFIXES = (".pt", ".onnx", ".engine", ".tflite")

TrackedPerson = tuple[int, Box, float]
"""(track id, detection box normalised x1 y1 x2 y2, detection confidence)."""


def _force_offline() -> None:
    """Make sure Ultralytics never touches the network, even if it was imported before this module."""
    import ultralytics.utils as uu
    import ultralytics.utils.checks as uc
    import ultralytics.utils.events as ue

    uu.ONLINE = False
    uc.ONLINE = False
    uc.AUTOINSTALL = False
    ue.ONLINE = False
    ue.events.enabled = False
    # In memory only (dict.__setitem__ skips Ultralytics' JSON persistence): do not rewrite the user's file.
    for key in ("sync", "clearml", "comet", "dvc", "mlflow", "raytune", "tensorboard", "wandb"):
        dict.__setitem__(uu.SETTINGS, key, False)


def pick_device(device: str | None = None) -> str:
    """Explicit device, else env SHIFTCLIPPER_DEVICE, else `cuda:0` when CUDA is available, else `cpu`."""
    if device:
        return device
    env = os.environ.get("SHIFTCLIPPER_DEVICE", "").strip()
    if env:
        return env
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True, slots=True)
class Detections:
    """Person detections on one frame, pixel coordinates of the original image. Duck-types the Ultralytics
    `Boxes` interface that `BYTETracker.update` needs (`conf`, `cls`, `xywh`, boolean indexing)."""

    xyxy: np.ndarray
    """(N, 4) float32."""
    conf: np.ndarray
    """(N,) float32."""
    width: int
    height: int

    @property
    def cls(self) -> np.ndarray:
        return np.full(len(self.conf), PERSON_CLASS, dtype=np.float32)

    @property
    def xywh(self) -> np.ndarray:
        xy = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2
        return np.concatenate([xy, self.xyxy[:, 2:] - self.xyxy[:, :2]], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask: np.ndarray) -> Detections:
        return Detections(self.xyxy[mask], self.conf[mask], self.width, self.height)

    def box_norm(self, i: int) -> Box:
        x1, y1, x2, y2 = (float(v) for v in self.xyxy[i])
        w, h = self.width, self.height
        return (
            min(max(x1 / w, 0.0), 1.0),
            min(max(y1 / h, 0.0), 1.0),
            min(max(x2 / w, 0.0), 1.0),
            min(max(y2 / h, 0.0), 1.0),
        )


class PersonTracker:
    """YOLO person detector + ByteTrack. Load once per process; `reset()` at the start of every video/job."""

    def __init__(
        self,
        weights: str | Path,
        device: str | None = None,
        *,
        threads: int | None = None,
        track_buffer_s: float = 1.0,
        warmup: bool = True,
        runtime: str = "",
    ) -> None:
        """`threads`: CPU threads for `.tflite` weights (default: every core; Ultralytics' own default is cpu_count - 1,
        i.e. ONE thread on a 2-core machine) and, when given, also `torch.set_num_threads`.
        `track_buffer_s`: how long a lost track may be re-found under the same id (video seconds).
        `runtime`: what runs `.tflite` weights, "openvino" or "litert" ("": the faster here, `default_runtime`)."""
        path = Path(weights)
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise ValueError(f"unsupported weights format {path.suffix!r}; use one of {SUPPORTED_SUFFIXES}")
        if not path.is_file():
            # Never let Ultralytics treat an unknown name as something to download.
            raise FileNotFoundError(f"weights not found: {path}")
        _force_offline()
        n_threads = threads or os.cpu_count() or 1
        if threads:
            import torch

            torch.set_num_threads(threads)

        self.format = path.suffix.lower().lstrip(".")
        device = pick_device(device)
        if self.format == "tflite":
            device = "cpu"  # OpenVINO/LiteRT run it on the CPU; a CUDA device would only add copies
        self.device = device
        self.half = device.startswith("cuda") and self.format == "pt"
        self.threads = n_threads
        self.track_buffer_s = track_buffer_s
        self._tflite = TfliteYolo(path, n_threads, runtime) if self.format == "tflite" else None
        self.model: Any = None
        if self._tflite is None:
            from ultralytics import YOLO

            self.model = YOLO(str(path), task="detect")
        self._tracker: Any = None
        self.reset()
        if warmup:  # load the backend now, not on the first frame of the first job
            self.detect_batch([np.zeros((360, 640, 3), dtype=np.uint8)])

    @property
    def runtime(self) -> str:
        """What runs the network: "openvino" or "litert" (`.tflite` weights), else "ultralytics"."""
        return self._tflite.runtime if self._tflite is not None else "ultralytics"

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(rows, cols) the network ran at on the last frame (`.tflite`, or a static export whose size
        Ultralytics imposes); None for dynamic models (`.pt`, dynamic ONNX) or before the first frame."""
        if self._tflite is not None:
            return self._tflite.last_input
        backend = getattr(self.model.predictor, "model", None)
        if backend is None or self.format == "pt" or getattr(backend, "dynamic", False):
            return None
        size = getattr(backend, "imgsz", None)
        if size is None:
            return None
        return (int(size[0]), int(size[1])) if isinstance(size, Sequence) else (int(size), int(size))

    def reset(self, sample_fps: float = 30.0) -> None:
        """Forget all tracks and restart ids at 1. `sample_fps`: frames per second fed to `update`/`track`."""
        from ultralytics.trackers.byte_tracker import BYTETracker

        args = SimpleNamespace(
            tracker_type="bytetrack",
            track_high_thresh=0.25,
            track_low_thresh=0.1,
            new_track_thresh=0.25,
            track_buffer=max(1, round(self.track_buffer_s * sample_fps)),
            match_thresh=0.8,
            fuse_score=True,
        )
        self._tracker = BYTETracker(args)

    def detect_batch(
        self,
        images: Sequence[np.ndarray],
        imgsz: int | tuple[int, int] = 640,
        conf: float = DEFAULT_CONF,
    ) -> list[Detections]:
        """Persons on each BGR image (one forward pass per batch where the model allows it)."""
        if not images:
            return []
        if self._tflite is not None:  # batch 1 on the CPU: one call per image
            out = []
            for img in images:
                xyxy, scores = self._tflite.detect(img, imgsz, conf, PERSON_CLASS)
                out.append(Detections(xyxy, scores, img.shape[1], img.shape[0]))
            return out
        results = self.model.predict(
            list(images),
            imgsz=imgsz,
            conf=conf,
            classes=[PERSON_CLASS],
            device=self.device,
            half=self.half,
            verbose=False,
            save=False,
        )
        out = []
        for img, r in zip(images, results, strict=True):
            boxes: Any = getattr(r, "boxes", None)
            h, w = img.shape[:2]
            if boxes is None or len(boxes) == 0:
                out.append(Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), w, h))
                continue
            xyxy = np.asarray(boxes.xyxy.cpu(), dtype=np.float32).reshape(-1, 4)
            out.append(Detections(xyxy, np.asarray(boxes.conf.cpu(), dtype=np.float32).reshape(-1), w, h))
        return out

    def track(self, dets: Detections) -> list[TrackedPerson]:
        """Advance ByteTrack by one frame. Returns the tracks matched on this frame with their raw
        detection box (not the Kalman-smoothed one) and detection confidence."""
        assert self._tracker is not None
        rows = self._tracker.update(dets)
        out: list[TrackedPerson] = []
        for row in rows:
            idx = int(row[-1])
            out.append((int(row[4]), dets.box_norm(idx), float(dets.conf[idx])))
        out.sort(key=lambda t: t[0])
        return out

    def coast(self) -> None:
        """Advance the tracker by one sampled frame that is skipped on purpose (not detected): every confirmed
        track's Kalman state steps forward once, as `track` would, so velocities stay in units of one sampled
        frame and a lost track's age counts the skipped frame. Without this, a tracker fed every 2nd frame
        predicts half the motion and keeps matching a player who has already left."""
        assert self._tracker is not None
        tracker = self._tracker
        tracker.frame_id += 1
        confirmed = [t for t in tracker.tracked_stracks if t.is_activated]
        tracker.multi_predict(confirmed + list(tracker.lost_stracks))

    def update(
        self, image_bgr: np.ndarray, imgsz: int | tuple[int, int] = 640, conf: float = DEFAULT_CONF
    ) -> list[TrackedPerson]:
        """Detect persons on one frame and advance the tracker."""
        return self.track(self.detect_batch([image_bgr], imgsz=imgsz, conf=conf)[0])
