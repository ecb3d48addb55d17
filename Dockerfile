# syntax=docker/dockerfile:1
# greenlane operator image: `greenlane run`, non-root, works with a read-only root filesystem.
#
# Base pinned to an exact patch release. In CI, pin by digest too so rebuilds are reproducible:
#   docker buildx imagetools inspect python:3.12.8-slim-bookworm   -> sha256:...
#   FROM python:3.12.8-slim-bookworm@sha256:<digest>
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm

# ---- builder: build the wheel and install it (with its dependencies) into a virtualenv ----------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY controller ./controller
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/greenlane \
 && /opt/greenlane/bin/pip install --no-compile /wheels/*.whl \
 # Compile bytecode now: at runtime the filesystem is read-only and nothing may be written.
 && /opt/greenlane/bin/python -m compileall -q /opt/greenlane/lib \
 && /opt/greenlane/bin/greenlane --help > /dev/null \
 # The operator installs nothing at runtime: no pip or setuptools in the image.
 && /opt/greenlane/bin/python -m pip uninstall -y -q pip setuptools

# ---- runtime: the interpreter and the virtualenv, no compilers, no pip --------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="greenlane" \
      org.opencontainers.image.description="Weighted blue/green rollouts, judged against blue from Prometheus" \
      org.opencontainers.image.licenses="Apache-2.0"
# The slim image carries no compiler; remove pip and setuptools too, the operator installs nothing.
RUN python -m pip uninstall -y -q pip setuptools wheel 2>/dev/null || true
COPY --from=builder /opt/greenlane /opt/greenlane
ENV PATH=/opt/greenlane/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# 65532 = the conventional "nonroot" UID/GID (distroless); numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["greenlane", "run"]
