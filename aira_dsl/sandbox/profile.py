"""Sandbox profiles: the YAML files in ``runtimes/`` that say how node code runs.

A spec names a profile (``execution.sandbox: local``); the profile picks the backend, the
isolation it insists on, default limits and the environment allow-list. Profiles are data, not
code, so ``aira-dsl validate`` checks them with positioned diagnostics like specs, and one
machine's quirks (a bubblewrap binary unpacked by hand, a CI base image) live in a profile or an
``${env:..}`` default rather than in the code.
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
from aira_dsl.sandbox.base import SANDBOX_WORKDIR, Limits, SandboxError
from aira_dsl.spec.model import parse_duration
from aira_dsl.spec.yamlpos import YamlDocument, load_yaml_file

__all__ = [
    "CACHE_MOUNT_ROOT",
    "DEFAULT_ENV_ALLOW",
    "CacheBinding",
    "DockerSettings",
    "SandboxProfile",
    "check_profile_file",
    "default_search_dirs",
    "is_secret_name",
    "load_profile",
    "parse_size",
    "profile_from_data",
]

DEFAULT_ENV_ALLOW = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")
"""Host variables passed through by default: locale and time zone only."""

_SECRET = re.compile(r"(?i)(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_?KEY|AUTH|"
                     r"^AWS_|^AZURE_|^GOOGLE_APPLICATION|^OPENAI_|^ANTHROPIC_)")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def is_secret_name(name: str) -> bool:
    """Whether an environment variable looks like a credential (never passed into a sandbox)."""
    return bool(_SECRET.search(name))


def parse_size(value: Any) -> int | None:
    """``2g`` / ``512m`` / ``1.5GiB`` / ``1048576`` → bytes (binary units); None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _SIZE.match(value)
    if not match:
        return None
    number, unit, _, _ = match.groups()
    return int(float(number) * _SIZE_UNITS[unit.lower()])


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


def _caches(entries: Sequence[Mapping[str, Any]], base: Path | None) -> tuple[CacheBinding, ...]:
    out = []
    for entry in entries:
        host = Path(str(entry["host"])).expanduser()
        if not host.is_absolute() and base is not None:
            host = base / host
        mount = str(entry.get("mount") or f"{CACHE_MOUNT_ROOT}/{host.name or 'cache'}")
        out.append(CacheBinding(host=host, env=str(entry["env"]), mount=mount))
    return tuple(out)


@dataclass(frozen=True)
class DockerSettings:
    """The ``docker:`` section: which image, how to build it, how to run it."""

    image: str | None = None
    dockerfile: Path | None = None
    context: Path | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    extra_ca_certs: Path | None = None
    build_network: str | None = None
    user: str = "1000:1000"
    python: str = "python3"
    init: bool = True
    shm_size: int = 1 << 30
    tmp_size: int = 1 << 30


@dataclass(frozen=True)
class SandboxProfile:
    """A loaded, checked profile with every default filled in."""

    name: str
    backend: str
    path: Path | None = None
    description: str = ""
    isolation: str = "auto"
    resource_control: str = "auto"
    limits: Limits = field(default_factory=lambda: Limits(wall_time=3600.0, max_processes=4096))
    kill_grace: float = 5.0
    gpus: str = "auto"
    env_allow: tuple[str, ...] = DEFAULT_ENV_ALLOW
    env_set: Mapping[str, str] = field(default_factory=dict)
    bwrap: str = "bwrap"
    python: str | None = None
    uid: int = 61000
    bind_ro: tuple[str, ...] = ("/opt",)
    tmp_size: int = 1 << 30
    cgroup_parent: str | None = None
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


def _limits(data: Mapping[str, Any]) -> Limits:
    defaults = SandboxProfile(name="_", backend="local").limits

    def size(key: str, default: int | None) -> int | None:
        return parse_size(data[key]) if data.get(key) is not None else (None if key in data else default)

    wall = parse_duration(data["wall_time"]) if "wall_time" in data else defaults.wall_time
    output = parse_size(data.get("output_bytes")) if "output_bytes" in data else defaults.output_bytes
    return Limits(
        wall_time=wall or defaults.wall_time,
        memory_bytes=size("memory", defaults.memory_bytes),
        cpus=float(data["cpus"]) if data.get("cpus") is not None else None,
        max_processes=data.get("max_processes", defaults.max_processes),
        output_bytes=output or defaults.output_bytes,
        file_size_bytes=size("file_size", defaults.file_size_bytes),
    )


def _relative(base: Path | None, value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() or base is None else (base / path)


def profile_from_data(data: Mapping[str, Any], name: str, path: Path | None = None) -> SandboxProfile:
    """A :class:`SandboxProfile` from already-checked data (paths resolve against ``path``)."""
    base = path.parent if path is not None else None
    local = data.get("local") or {}
    env = data.get("env") or {}
    docker = None
    if data.get("docker") is not None or data["backend"] == "docker":
        section = data.get("docker") or {}
        dockerfile = _relative(base, section.get("dockerfile"))
        context = _relative(base, section.get("context")) or (dockerfile.parent if dockerfile else None)
        docker = DockerSettings(
            image=section.get("image") or None,
            dockerfile=dockerfile,
            context=context,
            build_args={k: str(v) for k, v in (section.get("build_args") or {}).items()},
            extra_ca_certs=_relative(base, section.get("extra_ca_certs")),
            build_network=section.get("build_network") or None,
            user=str(section.get("user", "1000:1000")),
            python=section.get("python", "python3"),
            init=bool(section.get("init", True)),
            shm_size=parse_size(section.get("shm_size", "1g")) or 1 << 30,
            tmp_size=parse_size(section.get("tmp_size", "1g")) or 1 << 30,
        )
    grace = parse_duration(data.get("kill_grace", 5.0))
    return SandboxProfile(
        name=data.get("name") or name,
        backend=data["backend"],
        path=path,
        description=data.get("description", ""),
        isolation=data.get("isolation", "auto"),
        resource_control=data.get("resource_control", "auto"),
        limits=_limits(data.get("limits") or {}),
        kill_grace=5.0 if grace is None else grace,
        gpus=data.get("gpus", "auto"),
        env_allow=tuple(env.get("allow", DEFAULT_ENV_ALLOW)),
        env_set={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (env.get("set") or {}).items()},
        bwrap=local.get("bwrap", "bwrap"),
        python=local.get("python"),
        uid=int(local.get("uid", 61000)),
        bind_ro=tuple(local.get("bind_ro", ("/opt",))),
        tmp_size=parse_size(local.get("tmp_size", "1g")) or 1 << 30,
        cgroup_parent=local.get("cgroup_parent") or None,
        docker=docker,
        caches=_caches(data.get("caches") or [], base),
    )


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
        out.append(doc.diagnostic("unisolated", "isolation: none runs node code unisolated, with this "
                                  "user's rights: use it for trusted code only", ("isolation",),
                                  severity=Severity.INFO))
    seen_env: dict[str, int] = {}
    seen_mount: dict[str, int] = {}
    for index, entry in enumerate(data.get("caches") or []):
        mount = entry.get("mount") or f"{CACHE_MOUNT_ROOT}/{Path(str(entry.get('host', ''))).expanduser().name}"
        for seen, value, key in ((seen_env, entry.get("env"), "env"), (seen_mount, mount, "mount")):
            if value in seen:
                out.append(doc.diagnostic("duplicate-cache", f"caches[{index}] uses the same {key} ({value}) as "
                                          f"caches[{seen[value]}]", ("caches", index),
                                          hint="give each cache its own env and mount"))
            seen[value] = index
        if is_secret_name(str(entry.get("env", ""))):
            out.append(doc.diagnostic("secret-env", f"'{entry.get('env')}' looks like a credential; a cache's "
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


def default_search_dirs() -> list[Path]:
    """``./runtimes`` of the working directory, then the ``runtimes/`` shipped next to the package."""
    shipped = Path(__file__).resolve().parents[2] / "runtimes"
    dirs = [Path.cwd() / "runtimes", shipped]
    return list(dict.fromkeys(d.resolve() for d in dirs))


def _find(name: str, search_dirs: Sequence[Path]) -> Path:
    looks_like_path = "/" in name or name.endswith((".yaml", ".yml"))
    if looks_like_path:
        path = Path(name).expanduser()
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


def load_profile(name_or_path: str | Path, search_dirs: Sequence[Path] | None = None) -> SandboxProfile:
    """Find a profile by name in ``search_dirs`` (default: :func:`default_search_dirs`) or by path,
    check it, and return it; any error becomes a :class:`SandboxError` listing the diagnostics."""
    dirs = list(search_dirs) if search_dirs is not None else default_search_dirs()
    path = _find(str(name_or_path), dirs)
    doc = load_yaml_file(path, env_mode="error")
    diagnostics = _check_document(doc, path)
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise SandboxError(f"sandbox profile {path} is invalid:\n" + render_text(errors).rstrip(),
                           hint=f"run `aira-dsl validate {path}` after fixing it")
    return profile_from_data(doc.data, path.stem, path)
