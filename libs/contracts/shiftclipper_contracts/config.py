"""Service configuration: one Struct, read from `SHIFTCLIPPER_<FIELD>` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

ENV_PREFIX = "SHIFTCLIPPER_"
SECRET_FIELDS = frozenset({"s3_secret_key", "api_keys", "admin_key"})
DEFAULT_CHECKPOINT_EVERY_S = 10.0
CUDA_DETECT_BATCH = 32
"""`detect_batch` when it is 0 and the detector runs on CUDA (not yet measured on a GPU: no task had one)."""
OcrEngine = Literal["rapidocr", "digits", "ensemble", "paddleocr"]
"""Jersey-number OCR engines (`ocr_engine`; the tracker's `JerseyReader` and `shiftclipper ocr --engine`)."""


class ServiceConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    nats_url: str = "nats://127.0.0.1:4222"
    """NATS server URL(s), comma-separated."""
    s3_endpoint: str = "http://127.0.0.1:9000"
    """S3-compatible endpoint (MinIO, SeaweedFS, AWS)."""
    s3_access_key: str = ""
    """S3 access key id."""
    s3_secret_key: str = ""
    """S3 secret key."""
    s3_region: str = "us-east-1"
    """S3 region (MinIO and SeaweedFS accept any)."""
    s3_bucket: str = "shiftclipper"
    """Bucket holding every job's objects (created at start-up when missing)."""
    s3_public_endpoint: str = ""
    """Endpoint used in presigned URLs handed to clients; empty = `s3_endpoint`."""
    api_keys: str = ""
    """Comma-separated `name:key` pairs. Each key sees only its own jobs."""
    admin_key: str = ""
    """A key that sees every job."""
    host: str = "127.0.0.1"
    """Address the gateway listens on."""
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    """Port the gateway listens on."""
    max_upload_bytes: Annotated[int, msgspec.Meta(ge=1)] = 20 * 1024**3
    """Largest accepted video, bytes."""
    upload_part_bytes: Annotated[int, msgspec.Meta(ge=5 * 1024**2)] = 8 * 1024**2
    """S3 multipart part size used while streaming uploads (bounds gateway memory per upload)."""
    upload_idle_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    """An upload whose client sends no bytes for this many seconds is aborted with 408 (slow-loris
    protection); the job returns to `created` and can be uploaded again."""
    rate_jobs_per_min: Annotated[float, msgspec.Meta(ge=0)] = 120.0
    """Job creations (`POST /jobs`) allowed per API key per minute, refilled continuously (token bucket);
    0 = unlimited. Over the limit: 429 with `Retry-After`."""
    rate_jobs_burst: Annotated[int, msgspec.Meta(ge=1)] = 60
    """Job creations one API key may make at once before `rate_jobs_per_min` applies."""
    rate_uploads_per_min: Annotated[float, msgspec.Meta(ge=0)] = 60.0
    """Video uploads (raw, multipart and presigned-URL requests) allowed per API key per minute; 0 = unlimited."""
    rate_uploads_burst: Annotated[int, msgspec.Meta(ge=1)] = 30
    """Uploads one API key may start at once before `rate_uploads_per_min` applies."""
    tracker_concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    """Jobs one tracker process works on at once (the work consumer's MaxAckPending)."""
    exporter_concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2
    """Clips one exporter process cuts at once."""
    stream_replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    """Replicas of every JetStream stream and KV bucket: 3 on a 3-node NATS cluster."""
    ack_wait_s: Annotated[float, msgspec.Meta(ge=5)] = 60.0
    """Seconds without a heartbeat before JetStream redelivers a message to another worker."""
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3
    """Deliveries of one tracking attempt before it is failed and dead-lettered."""
    model_path: str = "yolo11n.pt"
    """Person detector weights (.pt, .onnx, .engine, .tflite)."""
    device: str = ""
    """Torch device for the tracker: empty = CUDA if available, else CPU."""
    detect_runtime: Literal["", "openvino", "litert"] = ""
    """What runs `.tflite` detector weights on the CPU: `openvino` (bf16 on CPUs that have it; 2.3x LiteRT on an AMX
    Xeon, docs/benchmarks.md) or `litert` (XNNPACK; faster on AVX2-only CPUs); empty = OpenVINO on CPUs with
    AVX-512 when installed, else LiteRT."""
    detect_batch: Annotated[int, msgspec.Meta(ge=0, le=256)] = 0
    """Sampled frames the person detector takes in one forward pass. 0 = CUDA_DETECT_BATCH (32) when the detector
    runs on CUDA, else 1 (the CPU runners take one image at a time, and at 1 the tracker skips detecting frames
    where nothing hangs on them). Above 1 every sampled frame is detected."""
    checkpoint_every_s: Annotated[float, msgspec.Meta(ge=1.0, le=600.0)] = DEFAULT_CHECKPOINT_EVERY_S
    """Wall seconds between tracker checkpoints (frame index + core state in KV): the most work a killed
    tracker loses; each checkpoint costs one KV write of a few KB."""
    ocr_engine: OcrEngine = "rapidocr"
    """Jersey-number OCR engine: `rapidocr` (PP-OCR recognition, offline ONNX, default), `digits` (our small
    CNN trained on synthetic renders; see docs/ocr.md), `ensemble` (both, posteriors averaged) or `paddleocr`
    (PaddleOCR's recogniser on Paddle Inference, `pip install 'shiftclipper[paddle]'`; where it cannot load, the
    tracker logs a warning and uses `rapidocr`)."""
    paddleocr_model_dir: str = ""
    """`ocr_engine=paddleocr` only: a local PaddleOCR recognition model directory (`inference.yml` and its
    weights), read without any network; empty = the recogniser PaddleOCR downloads on first use."""
    artifact_url_ttl_s: Annotated[int, msgspec.Meta(ge=10, le=7 * 86400)] = 3600
    """Lifetime of signed artefact URLs."""
    metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    """Port of a worker's (tracker, exporter) HTTP endpoints `/metrics`, `/health/live` and `/health/ready`
    on all interfaces; 0 = off. The gateway serves the same paths on its own port."""
    log_json: bool = True
    """JSON logs (services); False gives console logs."""
    log_level: str = "info"
    """debug, info, warning or error."""


def load_config(env: dict[str, str] | None = None, **overrides: object) -> ServiceConfig:
    """Build the config from the environment, then explicit overrides. Raises msgspec.ValidationError."""
    source: Mapping[str, str] = os.environ if env is None else env
    values: dict[str, object] = {}
    for name in ServiceConfig.__struct_fields__:
        raw = source.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = raw
    values.update(overrides)
    return msgspec.convert(values, ServiceConfig, strict=False)


def public_config(config: ServiceConfig) -> dict[str, object]:
    """The config with secrets masked, for start-up logs."""
    out = msgspec.structs.asdict(config)
    for name in SECRET_FIELDS & out.keys():
        out[name] = "***" if out[name] else ""
    return out


def parse_api_keys(spec: str) -> dict[str, str]:
    """`name:key,name2:key2` -> {key: name}. A bare `key` is named after its first 6 characters."""
    keys: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, key = item.partition(":")
        if not sep:
            name, key = f"key-{item[:6]}", item
        if not key:
            raise ValueError(f"empty API key for {name!r}")
        keys[key] = name
    return keys
