# syntax=docker/dockerfile:1
# Tracker (person detection, tracking, jersey OCR). One Dockerfile, two variants:
#   CUDA (default): docker build -f deploy/tracker.Dockerfile -t shiftclipper-tracker:cuda .
#   CPU:            docker build -f deploy/tracker.Dockerfile --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu -t shiftclipper-tracker:cpu .
# The CUDA torch wheels bundle the CUDA runtime; the host needs only the NVIDIA driver + container toolkit.
# Models are never fetched at run time: mount them at /models (docker-compose, k8s) or bake one in at
# build time with --build-arg MODEL_URL=... --build-arg MODEL_SHA256=... (then do not mount over /models).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu124
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch>=2.4" "torchvision>=0.19"
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
# Headless OpenCV on servers: ultralytics pulls opencv-python (GUI, needs libGL); swap in the same
# version of opencv-python-headless.
RUN pip install ".[tracker]" \
    && cv=$(python -c "import importlib.metadata as m; print(m.version('opencv-python'))" 2>/dev/null || true) \
    && if [ -n "$cv" ]; then pip uninstall -y opencv-python && pip install "opencv-python-headless==$cv"; fi

FROM ${PYTHON_IMAGE} AS models
ARG MODEL_URL=""
ARG MODEL_SHA256=""
RUN mkdir -p /models && if [ -n "$MODEL_URL" ]; then \
      python -c "import hashlib,sys,urllib.request as u; d=u.urlopen(sys.argv[1]).read(); h=hashlib.sha256(d).hexdigest(); \
assert not sys.argv[2] or h==sys.argv[2], f'sha256 {h} != {sys.argv[2]}'; open('/models/'+sys.argv[1].rsplit('/',1)[1],'wb').write(d)" \
      "$MODEL_URL" "$MODEL_SHA256"; \
    fi

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin shiftclipper
COPY --from=build /opt/venv /opt/venv
COPY --from=models /models /models
COPY deploy/healthcheck.py /usr/local/bin/sc-healthcheck
# YOLO_*: Ultralytics never downloads or pip-installs anything at run time. HOME, MPLCONFIGDIR and
# YOLO_CONFIG_DIR under /tmp: the root filesystem can be read-only (k8s mounts an emptyDir there).
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/tmp MPLCONFIGDIR=/tmp/matplotlib \
    SHIFTCLIPPER_MODEL_PATH=/models/yolo11n.pt \
    YOLO_OFFLINE=true YOLO_AUTOINSTALL=false YOLO_CONFIG_DIR=/tmp/ultralytics \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "/usr/local/bin/sc-healthcheck"]
ENTRYPOINT ["python", "-m", "shiftclipper_tracker"]
