# CPU image for the docker-cpu sandbox profile: Python plus the usual tabular-ML packages.
#
# Build arguments:
#   BASE_IMAGE       any image with python3 (default: the official slim Python image;
#                    CI passes an image imported from a debootstrap rootfs, as it cannot pull)
#   PIP_PACKAGES     packages to pip-install (empty: none)
#   EXTRA_CA_CERTS   PEM text of extra CA certificates, for builds behind a TLS-inspecting proxy
#
# The sandbox runs containers from this image with no network, a read-only root, all
# capabilities dropped and as uid 1000, so nothing here may rely on writing outside
# /workspace and /tmp at run time.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG EXTRA_CA_CERTS=""
ARG PIP_PACKAGES="numpy pandas scikit-learn scipy"

ENV PYTHONDONTWRITEBYTECODE=1 \
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
    if [ -n "$PIP_PACKAGES" ]; then \
      if [ -n "$EXTRA_CA_CERTS" ]; then set -- --cert /etc/ssl/certs/ca-certificates.crt; else set --; fi; \
      python3 -m pip install "$@" $PIP_PACKAGES; \
    fi

RUN set -eu; \
    python3 -c 'import sys; assert sys.version_info >= (3, 8), sys.version'; \
    grep -q '^sandbox:' /etc/passwd || echo 'sandbox:x:1000:1000:sandbox:/tmp:/usr/sbin/nologin' >> /etc/passwd; \
    grep -q '^sandbox:' /etc/group || echo 'sandbox:x:1000:' >> /etc/group; \
    mkdir -p /workspace; chown 1000:1000 /workspace

USER 1000:1000
WORKDIR /workspace
CMD ["python3"]
