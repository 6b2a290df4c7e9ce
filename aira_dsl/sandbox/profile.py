"""Sandbox profiles: the YAML files in ``runtimes/`` that say how node code runs.

A spec names a profile (``execution.sandbox: local``); the profile picks the backend, the
isolation it insists on, default limits and the environment allow-list. Profiles are data, not
code, so ``aira-dsl validate`` checks them with positioned diagnostics like specs, and one
machine's quirks (a bubblewrap binary unpacked by hand, a CI base image) live in a profile or an
``${env:..}`` default rather than in the code.

What a profile may say, with every default, is declared once in
:mod:`aira_dsl.sandbox.profile_settings` (the schema and docs/sandbox.md's key reference are
generated from it); this module checks what a schema cannot and turns the declared settings into
a :class:`SandboxProfile` with resolved paths.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from aira_dsl.diagnostics import Diagnostic, Severity, render_text
from aira_dsl.profile_paths import default_search_dirs, is_profile_path, profile_path_problem
from aira_dsl.sandbox.base import SANDBOX_WORKDIR, Limits, SandboxError
from aira_dsl.sandbox.profile_settings import (
    DEFAULT_ENV_ALLOW,
    CacheSettings,
    DockerBackendSettings,
    EnvSettings,
    LimitSettings,
    LocalBackendSettings,
    ProfileSettings,
)
from aira_dsl.settings.fields import SettingError, build, default_of, parse_duration, parse_size
from aira_dsl.spec.yamlpos import YamlDocument, load_yaml_file

__all__ = [
    "CACHE_MOUNT_ROOT",
    "DEFAULT_ENV_ALLOW",
    "CacheBinding",
    "DockerSettings",
    "ProfileSettings",
    "SandboxProfile",
    "check_profile_file",
    "default_search_dirs",
    "is_profile_path",
    "is_secret_name",
    "load_profile",
    "parse_size",
    "profile_from_data",
    "profile_path_problem",
]

_SECRET = re.compile(r"(?i)(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_?KEY|AUTH|"
                     r"^AWS_|^AZURE_|^GOOGLE_APPLICATION|^OPENAI_|^ANTHROPIC_)")


def is_secret_name(name: str) -> bool:
    """Whether an environment variable looks like a credential (never passed into a sandbox)."""
    return bool(_SECRET.search(name))


CACHE_MOUNT_ROOT = "/caches"
"""Where read-only model caches appear inside an isolated sandbox (``/caches/<name>``)."""


@dataclass(frozen=True)
class CacheBinding:
    """One ``caches:`` entry: a host folder of pretrained weights, bound read-only into sandboxes.

    Inside an isolated sandbox it appears at ``mount`` (default ``/caches/<host folder name>``),
    never at its host path, so nothing else of the user's home becomes visible; ``env`` names
    the variable that points the libraries at it (``HF_HOME``, ``TORCH_HOME``...).
    """

    host: Path
    env: str
    mount: str

    def present(self) -> bool:
        """Whether the host folder exists (a missing cache is skipped, and prompts do not claim it)."""
        return self.host.is_dir()


def _cache_host(host: str, base: Path | None) -> Path:
    path = Path(host).expanduser()
    return base / path if not path.is_absolute() and base is not None else path


def _cache_mount(entry: CacheSettings, base: Path | None) -> str:
    """Where a cache appears: its ``mount``, else ``/caches/<host folder name>`` (one rule for
    the loader and the duplicate-mount check)."""
    return entry.mount or f"{CACHE_MOUNT_ROOT}/{_cache_host(entry.host, base).name or 'cache'}"


def _caches(entries: Sequence[CacheSettings], base: Path | None) -> tuple[CacheBinding, ...]:
    return tuple(CacheBinding(host=_cache_host(entry.host, base), env=entry.env, mount=_cache_mount(entry, base))
                 for entry in entries)


# The runtime objects below take their defaults from the profile's declarations.
_DOCKER = DockerBackendSettings()
_LOCAL = LocalBackendSettings()


def _limits(section: LimitSettings) -> Limits:
    return Limits(wall_time=section.wall_time, memory_bytes=section.memory, cpus=section.cpus,
                  max_processes=section.max_processes, output_bytes=section.output_bytes,
                  file_size_bytes=section.file_size)


@dataclass(frozen=True)
class DockerSettings:
    """The ``docker:`` section: which image, how to build it, how to run it (paths resolved)."""

    image: str | None = _DOCKER.image
    dockerfile: Path | None = None
    context: Path | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    extra_ca_certs: Path | None = None
    build_network: str | None = _DOCKER.build_network
    user: str = _DOCKER.user
    python: str = _DOCKER.python
    init: bool = _DOCKER.init
    shm_size: int = _DOCKER.shm_size
    tmp_size: int = _DOCKER.tmp_size


@dataclass(frozen=True)
class SandboxProfile:
    """A loaded, checked profile with every default filled in (the defaults are the declared ones,
    :mod:`aira_dsl.sandbox.profile_settings`)."""

    name: str
    backend: str
    path: Path | None = None
    description: str = default_of(ProfileSettings, "description")
    isolation: str = default_of(ProfileSettings, "isolation")
    resource_control: str = default_of(ProfileSettings, "resource_control")
    limits: Limits = field(default_factory=lambda: _limits(LimitSettings()))
    kill_grace: float = default_of(ProfileSettings, "kill_grace")
    gpus: str = default_of(ProfileSettings, "gpus")
    env_allow: tuple[str, ...] = default_of(EnvSettings, "allow")
    env_set: Mapping[str, str] = field(default_factory=dict)
    bwrap: str = _LOCAL.bwrap
    python: str | None = _LOCAL.python
    uid: int = _LOCAL.uid
    bind_ro: tuple[str, ...] = _LOCAL.bind_ro
    tmp_size: int = _LOCAL.tmp_size
    cgroup_parent: str | None = _LOCAL.cgroup_parent
    docker: DockerSettings | None = None
    caches: tuple[CacheBinding, ...] = ()

    def present_caches(self) -> tuple[CacheBinding, ...]:
        """The ``caches`` whose host folders exist."""
        return tuple(c for c in self.caches if c.present())

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name, "backend": self.backend, "path": str(self.path) if self.path else None,
            "isolation": self.isolation, "resource_control": self.resource_control,
            "limits": self.limits.to_dict(), "kill_grace": self.kill_grace, "gpus": self.gpus,
        }
        if self.docker is not None:
            data["docker"] = {"image": self.docker.image,
                              "dockerfile": str(self.docker.dockerfile) if self.docker.dockerfile else None}
        if self.caches:
            data["caches"] = [{"host": str(c.host), "env": c.env, "mount": c.mount, "present": c.present()}
                              for c in self.caches]
        return data


# --------------------------------------------------------------------------------------------
# Building a profile from (schema-valid) data


def _relative(base: Path | None, value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() or base is None else (base / path)


def _docker(section: DockerBackendSettings, base: Path | None) -> DockerSettings:
    dockerfile = _relative(base, section.dockerfile)
    context = _relative(base, section.context) or (dockerfile.parent if dockerfile else None)
    return DockerSettings(
        image=section.image or None,  # an empty ${env:..} default means "not set"
        dockerfile=dockerfile,
        context=context,
        build_args={k: str(v) for k, v in section.build_args.items()},
        extra_ca_certs=_relative(base, section.extra_ca_certs),
        build_network=section.build_network or None,
        user=section.user,
        python=section.python,
        init=section.init,
        shm_size=section.shm_size,
        tmp_size=section.tmp_size,
    )


def profile_from_data(data: Mapping[str, Any], name: str, path: Path | None = None) -> SandboxProfile:
    """A :class:`SandboxProfile` from already-checked data (paths resolve against ``path``), every
    default the declared one (:class:`~aira_dsl.sandbox.profile_settings.ProfileSettings`).

    Data that does not fit the declarations (possible only when the caller skipped the checks)
    raises :class:`SandboxError`.
    """
    try:
        settings: ProfileSettings = build(ProfileSettings, data)
        base = path.parent if path is not None else None
        docker = None
        if settings.docker is not None or settings.backend == "docker":
            docker = _docker(settings.docker or _DOCKER, base)
        local = settings.local
        return SandboxProfile(
            name=settings.name or name,
            backend=settings.backend,
            path=path,
            description=settings.description,
            isolation=settings.isolation,
            resource_control=settings.resource_control,
            limits=_limits(settings.limits),
            kill_grace=settings.kill_grace,
            gpus=settings.gpus,
            env_allow=tuple(settings.env.allow),
            env_set={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in settings.env.set.items()},
            bwrap=local.bwrap,
            python=local.python,
            uid=local.uid,
            bind_ro=tuple(local.bind_ro),
            tmp_size=local.tmp_size,
            cgroup_parent=local.cgroup_parent or None,
            docker=docker,
            caches=_caches(settings.caches, base),
        )
    except (SettingError, ValueError) as exc:
        raise SandboxError(f"sandbox profile {path or name} is invalid: {exc}",
                           hint="run `aira-dsl validate` on the profile file") from None


# --------------------------------------------------------------------------------------------
# Checking


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("aira_dsl.schemas").joinpath("sandbox-profile.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _semantic(doc: YamlDocument, path: Path) -> list[Diagnostic]:
    """Checks JSON Schema cannot express: units, referenced files, backend-specific keys."""
    data = doc.data
    out: list[Diagnostic] = []
    limits = data.get("limits") or {}
    if "wall_time" in limits and not parse_duration(limits["wall_time"]):
        out.append(doc.diagnostic("invalid-duration", "limits.wall_time must be a positive duration",
                                  ("limits", "wall_time"), hint="e.g. 90s, 30m, 4h"))
    if "output_bytes" in limits and (parse_size(limits["output_bytes"]) or 0) < 64:
        out.append(doc.diagnostic("invalid-size", "limits.output_bytes must be at least 64 bytes",
                                  ("limits", "output_bytes"), hint="e.g. 1m"))
    for key in ("memory", "file_size"):
        if limits.get(key) is not None and not parse_size(limits[key]):
            out.append(doc.diagnostic("invalid-size", f"limits.{key} must be a positive size",
                                      ("limits", key), hint="e.g. 512m, 8g"))
    for part, size_key in (("local", "tmp_size"), ("docker", "shm_size"), ("docker", "tmp_size")):
        size_value = (data.get(part) or {}).get(size_key)  # a zero size used to become the 1g default silently
        if size_value is not None and not parse_size(size_value):
            out.append(doc.diagnostic("invalid-size", f"{part}.{size_key} must be a positive size",
                                      (part, size_key), hint="e.g. 512m, 2g"))
    backend = data.get("backend")
    if backend == "docker":
        for key in ("isolation", "resource_control", "local"):
            if key in data:
                out.append(doc.diagnostic("ignored-key", f"'{key}' applies to the local backend only; "
                                          "Docker always isolates and uses its own cgroups",
                                          (key,), severity=Severity.WARNING, on_key=True))
        section = data.get("docker") or {}
        if not section.get("image") and not section.get("dockerfile"):
            out.append(doc.diagnostic("missing-image", "a docker profile needs docker.image or docker.dockerfile",
                                      ("docker",) if "docker" in data else (), on_key=True,
                                      hint="e.g. docker: {dockerfile: docker/cpu.Dockerfile}"))
        for key in ("dockerfile", "context"):
            value = section.get(key)
            target = _relative(path.parent, value) if isinstance(value, str) else None
            if target is not None and "${env:" not in str(value) and not target.exists():
                out.append(doc.diagnostic("missing-file", f"docker.{key} '{value}' does not exist "
                                          f"(looked for {target})", ("docker", key),
                                          hint="paths are relative to the profile file"))
    elif "docker" in data:
        out.append(doc.diagnostic("ignored-key", "'docker' applies to the docker backend only",
                                  ("docker",), severity=Severity.WARNING, on_key=True))
    if backend == "local" and data.get("isolation") == "none":
        # A warning, not a note: LLM-written code then reads and writes whatever this user can.
        out.append(doc.diagnostic("unisolated", "isolation: none runs node code unisolated, with this "
                                  "user's rights: use it for trusted code only", ("isolation",),
                                  severity=Severity.WARNING,
                                  hint="use isolation: auto (bubblewrap or unshare) unless every script is yours"))
    seen_env: dict[str, int] = {}
    seen_mount: dict[str, int] = {}
    for index, raw in enumerate(data.get("caches") or []):
        entry: CacheSettings = build(CacheSettings, raw, path=("caches", index))  # schema-valid already
        mount = _cache_mount(entry, path.parent)
        for seen, value, key in ((seen_env, entry.env, "env"), (seen_mount, mount, "mount")):
            if value in seen:
                out.append(doc.diagnostic("duplicate-cache", f"caches[{index}] uses the same {key} ({value}) as "
                                          f"caches[{seen[value]}]", ("caches", index),
                                          hint="give each cache its own env and mount"))
            seen[value] = index
        if is_secret_name(entry.env):
            out.append(doc.diagnostic("secret-env", f"'{entry.env}' looks like a credential; a cache's "
                                      "variable would be dropped", ("caches", index, "env")))
        if mount in ("/", SANDBOX_WORKDIR) or str(mount).startswith((SANDBOX_WORKDIR + "/", "/proc", "/dev")):
            out.append(doc.diagnostic("bad-mount", f"caches[{index}].mount {mount} would hide part of the sandbox",
                                      ("caches", index), hint=f"use a folder under {CACHE_MOUNT_ROOT}"))
    env = data.get("env") or {}
    for index, name in enumerate(env.get("allow") or []):
        if isinstance(name, str) and is_secret_name(name):
            out.append(doc.diagnostic("secret-env", f"'{name}' looks like a credential and is never "
                                      "passed into a sandbox", ("env", "allow", index),
                                      severity=Severity.WARNING))
    for name in env.get("set") or {}:
        if is_secret_name(name):
            out.append(doc.diagnostic("secret-env", f"'{name}' looks like a credential and is never "
                                      "passed into a sandbox", ("env", "set", name),
                                      severity=Severity.WARNING, on_key=True))
    return out


def _check_document(doc: YamlDocument, path: Path) -> list[Diagnostic]:
    from aira_dsl.spec.schema_check import schema_diagnostics

    found = list(doc.diagnostics)
    if doc.data is None:
        return found
    if not isinstance(doc.data, dict):
        return [*found, doc.diagnostic("not-a-mapping", "a sandbox profile is a YAML mapping",
                                       hint="start with `backend: local`")]
    schema_found = schema_diagnostics(doc, _schema())
    found.extend(schema_found)
    if not schema_found:
        found.extend(_semantic(doc, path))
    return found


def check_profile_file(path: Path) -> list[Diagnostic]:
    """Every diagnostic of a profile file (for ``aira-dsl validate``); never raises.

    Unset ``${env:..}`` variables without a default are warnings here (the machine that runs
    the profile may set them) and errors at run time.
    """
    doc = load_yaml_file(path, env_mode="warn")
    return sorted(_check_document(doc, Path(path)), key=Diagnostic.sort_key)


# --------------------------------------------------------------------------------------------
# Finding and loading


def _find(name: str, search_dirs: Sequence[Path], confine: bool = False) -> Path:
    if is_profile_path(name):
        path = Path(name).expanduser()
        problem = profile_path_problem(path, search_dirs) if confine else None
        if problem is not None:
            raise SandboxError(f"sandbox profile {name} is outside the profile search path: {problem}",
                               hint="keep profiles in ./runtimes or the project, or name a shipped one "
                                    "(local, local-unsafe, docker-cpu, docker-gpu)")
        if path.is_file():
            return path
        raise SandboxError(f"sandbox profile file {name} does not exist",
                           hint="give a profile name from runtimes/ (e.g. local) or an existing path")
    for directory in search_dirs:
        for suffix in (".yaml", ".yml"):
            candidate = Path(directory) / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    known = sorted({p.stem for d in search_dirs if Path(d).is_dir() for p in Path(d).glob("*.y*ml")})
    where = ", ".join(str(d) for d in search_dirs)
    raise SandboxError(f"no sandbox profile named '{name}' (looked in {where})",
                       hint=("available: " + ", ".join(known)) if known else
                       "create runtimes/<name>.yaml or pass a path to a profile file")


def load_profile(name_or_path: str | Path, search_dirs: Sequence[Path] | None = None, *,
                 confine: bool = False) -> SandboxProfile:
    """Find a profile by name in ``search_dirs`` (default: :func:`default_search_dirs`) or by path,
    check it, and return it; any error becomes a :class:`SandboxError` listing the diagnostics.

    ``confine``: a path must lie on the profile search path (:func:`profile_path_problem`); the
    runtime sets it for the name a plan gives, the command line's ``--sandbox`` is the user's own."""
    dirs = list(search_dirs) if search_dirs is not None else default_search_dirs()
    path = _find(str(name_or_path), dirs, confine)
    doc = load_yaml_file(path, env_mode="error")
    diagnostics = _check_document(doc, path)
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise SandboxError(f"sandbox profile {path} is invalid:\n" + render_text(errors).rstrip(),
                           hint=f"run `aira-dsl validate {path}` after fixing it")
    return profile_from_data(doc.data, path.stem, path)
