# syntax=docker/dockerfile:1
# Exporter: cuts clips, builds the reel and thumbnails (ffmpeg from imageio-ffmpeg, PyAV). No torch.
#   docker build -f deploy/exporter.Dockerfile -t shiftclipper-exporter .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
# av: the exporter cuts with PyAV, which the `exporter` extra does not list yet.
RUN pip install ".[exporter]" "av>=13"

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin shiftclipper
COPY --from=build /opt/venv /opt/venv
COPY deploy/healthcheck.py /usr/local/bin/sc-healthcheck
# TMPDIR: scratch space for clips being cut (an emptyDir / tmpfs in production).
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 TMPDIR=/tmp
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/bin/sc-healthcheck"]
ENTRYPOINT ["python", "-m", "shiftclipper_exporter"]
