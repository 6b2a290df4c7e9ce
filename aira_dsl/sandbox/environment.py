"""The environment variables sandboxed code gets: a small, explicit set, never credentials.

The host environment of an agent run holds API keys (``OPENAI_API_KEY``...). Code written by
the model must not read them, so the sandbox starts from an empty environment and adds only
fixed variables, the profile's allow-list and the caller's values, after dropping every name
that looks like a credential, whoever asked for it.

Sandboxes have no network, so Hugging Face libraries are told so (their offline switches) instead
of timing out on downloads; pretrained weights come only from the profile's read-only ``caches``,
whose variables (``HF_HOME``...) point at where each cache is bound.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from aira_dsl.sandbox.profile import SandboxProfile, is_secret_name

__all__ = ["OFFLINE_SWITCHES", "cache_binds", "cache_variables", "prompt_sandbox", "sandbox_env"]

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
OFFLINE_SWITCHES = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
"""Set in every sandbox (a profile's ``env.set`` may change them): there is no network to download from."""


def cache_binds(profile: SandboxProfile) -> list[tuple[str, str]]:
    """(host folder, path inside) of each present cache, for the backend to bind read-only."""
    return [(str(c.host.resolve()), c.mount) for c in profile.present_caches()]


def cache_variables(profile: SandboxProfile, *, inside: bool = True) -> dict[str, str]:
    """Each present cache's variable, pointing at its mount (``inside``) or its host folder (unisolated)."""
    return {c.env: (c.mount if inside else str(c.host.resolve())) for c in profile.present_caches()}


def prompt_sandbox(profile: SandboxProfile, *, isolation: str) -> dict[str, object]:
    """The ``sandbox`` template variable: whether code has a network, and which caches it can read."""
    inside = isolation != "none"
    return {"network": isolation == "none",
            "caches": [{"name": c.host.name, "env": c.env, "path": c.mount if inside else str(c.host)}
                       for c in profile.present_caches()]}


def sandbox_env(profile: SandboxProfile, extra: Mapping[str, str], *, python: str, gpus: Sequence[int],
                cpus: float | None, home: str, run_id: str, host: Mapping[str, str] | None = None,
                caches_inside: bool = True) -> dict[str, str]:
    """The complete environment of one execution.

    Order of precedence (later wins): fixed defaults (with the offline switches), host variables
    on the allow-list, the profile's ``env.set``, the caller's ``extra``; then credentials are
    removed and the run marker, GPU and cache variables are set (they cannot be overridden).
    ``caches_inside`` says whether caches are bound at their mounts (isolated) or used in place.
    """
    host = os.environ if host is None else host
    python_bin = os.path.dirname(python) if os.path.isabs(python) else ""
    env: dict[str, str] = {
        "PATH": f"{python_bin}:{SYSTEM_PATH}" if python_bin else SYSTEM_PATH,
        "HOME": home,
        "TMPDIR": "/tmp" if home == "/tmp" else os.environ.get("TMPDIR", "/tmp"),
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        **OFFLINE_SWITCHES,
    }
    if cpus is not None:
        threads = str(max(1, math.ceil(cpus)))
        env.update({name: threads for name in THREAD_VARIABLES})
    for name in profile.env_allow:
        if name in host:
            env[name] = host[name]
    env.update(profile.env_set)
    env.update(extra)
    for name in [n for n in env if is_secret_name(n)]:
        del env[name]
    env["AIRA_SANDBOX_RUN"] = run_id
    env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
    env.update(cache_variables(profile, inside=caches_inside))
    return env
