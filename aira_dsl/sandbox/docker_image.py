"""Sandbox images: tagged by the hash of their build inputs, built on first use.

A changed Dockerfile, build argument or CA bundle must never run a stale image, and an unchanged
one must not be rebuilt per run. So the tag is ``aira-dsl/<profile>:<hash of the build inputs>``:
when it exists it is current; when it does not, it is built (with progress shown).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aira_dsl.sandbox.base import SandboxError
from aira_dsl.sandbox.profile import DockerSettings

__all__ = ["build_args", "ensure_image", "image_tag"]

Progress = Callable[[str], None]


def build_args(settings: DockerSettings) -> dict[str, str]:
    """The profile's build arguments plus ``EXTRA_CA_CERTS`` (the PEM text) when configured."""
    args = dict(settings.build_args)
    if settings.extra_ca_certs is not None:
        try:
            args["EXTRA_CA_CERTS"] = settings.extra_ca_certs.read_text(encoding="utf-8")
        except OSError as exc:
            raise SandboxError(f"cannot read the extra CA certificates {settings.extra_ca_certs}: "
                               f"{exc.strerror}", hint="fix docker.extra_ca_certs (a PEM file)") from exc
    return args


def _context_files(context: Path) -> list[Path]:
    files: list[Path] = []
    for root, dirs, names in os.walk(context):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(root, n) for n in sorted(names))
    return files


def image_tag(settings: DockerSettings, profile_name: str) -> str:
    """``aira-dsl/<profile>:<16 hex digits>`` over the Dockerfile, context files and build args."""
    if settings.dockerfile is None or settings.context is None:
        raise SandboxError("the docker profile names no dockerfile to build")
    digest = hashlib.sha256()
    digest.update(settings.dockerfile.read_bytes())
    for path in _context_files(settings.context):
        digest.update(str(path.relative_to(settings.context)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for key, value in sorted(build_args(settings).items()):
        digest.update(f"{key}={value}\0".encode())
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in profile_name.lower())
    return f"aira-dsl/{safe}:{digest.hexdigest()[:16]}"


def _exists(client: Any, image: str) -> bool:
    import docker.errors

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def ensure_image(client: Any, settings: DockerSettings, profile_name: str, progress: Progress) -> str:
    """The image to run: ``docker.image`` (pulled if missing) or the Dockerfile's, built if missing."""
    import docker.errors

    if settings.image:
        if not _exists(client, settings.image):
            progress(f"pulling {settings.image}\n")
            try:
                client.images.pull(settings.image)
            except docker.errors.APIError as exc:
                raise SandboxError(f"image {settings.image} is not available and cannot be pulled: {exc}",
                                   hint="build or load it, or point docker.dockerfile at a Dockerfile") from exc
        return settings.image
    tag = image_tag(settings, profile_name)
    if _exists(client, tag):
        return tag
    assert settings.dockerfile is not None and settings.context is not None
    progress(f"building sandbox image {tag} from {settings.dockerfile}\n")
    dockerfile = os.path.relpath(settings.dockerfile, settings.context)
    last: list[str] = []
    try:
        for chunk in client.api.build(path=str(settings.context), dockerfile=dockerfile, tag=tag,
                                      buildargs=build_args(settings), rm=True, forcerm=True, pull=False,
                                      decode=True, network_mode=settings.build_network or None):
            if "error" in chunk:
                raise SandboxError(f"building {tag} failed: {chunk['error'].strip()}",
                                   hint="see the build output above; check BASE_IMAGE and network access")
            text = chunk.get("stream") or chunk.get("status")
            if text and text.strip():
                progress(text if text.endswith("\n") else text + "\n")
                last = [*last, text][-20:]
    except docker.errors.APIError as exc:
        raise SandboxError(f"building {tag} failed: {exc}", hint="is the Docker engine healthy?") from exc
    if not _exists(client, tag):
        raise SandboxError(f"building {tag} produced no image", hint="".join(last)[-500:] or None)
    return tag
