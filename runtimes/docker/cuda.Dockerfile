# CUDA image for the docker-gpu sandbox profile: CUDA runtime, Python and the ML package set the
# agents are offered. GPUs are given per container by device id (NVIDIA container toolkit).
#
# Build arguments:
#   BASE_IMAGE       a CUDA runtime image (default: the official CUDA runtime image with cuDNN)
#   ML_PACKAGES      the package set to pip-install; the default is the list AIRA-dojo offers its
#                    agents (`available_packages` in its configs/solver/greedy.yaml), which is also
#                    the list prompts may mention (aira_dsl/sandbox/probe.py: ML_PACKAGES). Prompts
#                    only ever name what the built image really has: each run probes it.
#   PIP_PACKAGES     extra packages to pip-install on top (empty: none)
#   EXTRA_CA_CERTS   PEM text of extra CA certificates, for builds behind a TLS-inspecting proxy
ARG BASE_IMAGE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04
FROM ${BASE_IMAGE}

ARG EXTRA_CA_CERTS=""
ARG ML_PACKAGES="numpy pandas scikit-learn statsmodels xgboost lightgbm torch torchvision torch-geometric bayesian-optimization timm"
ARG PIP_PACKAGES=""

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1

RUN set -eu; \
    if [ -n "$EXTRA_CA_CERTS" ]; then \
      mkdir -p /usr/local/share/ca-certificates /etc/ssl/certs; \
      printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/aira-extra.crt; \
      if command -v update-ca-certificates >/dev/null 2>&1; then update-ca-certificates; \
      else cat /usr/local/share/ca-certificates/aira-extra.crt >> /etc/ssl/certs/ca-certificates.crt; fi; \
    fi

RUN set -eu; \
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then \
      apt-get update; \
      apt-get install -y --no-install-recommends python3 python3-pip ca-certificates; \
      rm -rf /var/lib/apt/lists/*; \
    fi

RUN set -eu; \
    if [ -n "$EXTRA_CA_CERTS" ]; then set -- --cert /etc/ssl/certs/ca-certificates.crt; else set --; fi; \
    if [ -n "$ML_PACKAGES$PIP_PACKAGES" ]; then python3 -m pip install "$@" $ML_PACKAGES $PIP_PACKAGES; fi

RUN set -eu; \
    grep -q '^sandbox:' /etc/passwd || echo 'sandbox:x:1000:1000:sandbox:/tmp:/usr/sbin/nologin' >> /etc/passwd; \
    grep -q '^sandbox:' /etc/group || echo 'sandbox:x:1000:' >> /etc/group; \
    mkdir -p /workspace; chown 1000:1000 /workspace

USER 1000:1000
WORKDIR /workspace
CMD ["python3"]
