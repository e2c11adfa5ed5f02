# syntax=docker/dockerfile:1
# Gateway (HTTP API, uploads, SSE, web UI; it also runs the projector). No torch in this image.
#   docker build -f deploy/api.Dockerfile -t shiftclipper-api .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
# av: the gateway probes uploads with PyAV, which the `api` extra does not list yet.
RUN pip install ".[api]" "av>=13"

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin shiftclipper
COPY --from=build /opt/venv /opt/venv
COPY deploy/healthcheck.py /usr/local/bin/sc-healthcheck
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    SHIFTCLIPPER_HOST=0.0.0.0 SHIFTCLIPPER_PORT=8000
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/bin/sc-healthcheck", "http://127.0.0.1:8000/health/ready"]
ENTRYPOINT ["python", "-m", "shiftclipper_api"]
