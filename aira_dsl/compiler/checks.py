"""Semantic check passes: small functions run in order, each adding diagnostics.

Each pass takes the :class:`CompileContext` and reads what earlier passes left there. A pass
that finds the document unusable sets ``ctx.stop`` so later passes don't report cascades of the
same mistake (one typo should give one error).
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Any

from aira_dsl.compiler.context import CompileContext, TemplateRef
from aira_dsl.diagnostics import Diagnostic, Severity
from aira_dsl.kinds import get_kind, kind_names, role_kinds
from aira_dsl.overlay import file_identity
from aira_dsl.roots import OUTSIDE_CODE, allowed_roots, check_inside, is_inside, outside_hint, realpath
from aira_dsl.shipped import is_package_ref, resolve_package_ref, shipped_path
from aira_dsl.spec.model import POLICY_ROLES, PromptSpec, SettingError, build_spec
from aira_dsl.spec.schema_check import did_you_mean, load_packaged_schema, schema_diagnostics
from aira_dsl.spec.yamlpos import Path

__all__ = ["CHECK_PASSES", "Pass", "find_prompt_roots", "run_checks"]

Pass = Callable[[CompileContext], None]


def check_loaded(ctx: CompileContext) -> None:
    """YAML problems (syntax, duplicate keys, extends) come first; unusable data stops here."""
    ctx.diagnostics.extend(ctx.doc.diagnostics)
    if ctx.doc.data is None or any(d.is_error for d in ctx.doc.diagnostics):
        ctx.stop = True


def agent_schema() -> dict[str, Any]:
    """The shipped agent schema, with the operator-kind enum of the live kind table (a kind
    registered at run time is as valid as a built-in one)."""
    schema = load_packaged_schema("agent.schema.json")
    names = list(kind_names())
    if schema["$defs"]["operator"]["properties"]["kind"]["enum"] == names:
        return schema
    key = tuple(names)
    patched = _PATCHED_SCHEMAS.get(key)
    if patched is None:
        patched = copy.deepcopy(schema)
        patched["$defs"]["operator"]["properties"]["kind"]["enum"] = names
        _PATCHED_SCHEMAS[key] = patched
    return patched


_PATCHED_SCHEMAS: dict[tuple[str, ...], dict[str, Any]] = {}


def check_schema(ctx: CompileContext) -> None:
    """The JSON Schema; the semantic passes then run on the parts that passed it.

    A spec whose ``extends`` was resolved is checked as the merged whole: the schema's
    "complete spec" requirements (models, operators, each operator's kind...) then apply, while
    an editor checking the file alone lets them come from the base.

    Every problem of a file is reported in one run (docs/spec-language.md): when the schema
    refuses part of the spec, that part is taken out (:func:`~aira_dsl.compiler.repair.passed_parts`)
    and the later passes check the rest, skipping relations that involve a refused part.
    """
    import dataclasses

    from aira_dsl.compiler.repair import passed_parts
    from aira_dsl.spec.schema_check import compiled_validator

    data = ctx.doc.data
    if len(ctx.loaded.chain) > 1 and isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "extends"}
    schema = agent_schema()
    found = schema_diagnostics(ctx.doc, schema, data)
    ctx.diagnostics.extend(found)
    if any(d.is_error for d in found):
        if not isinstance(data, dict):
            ctx.stop = True
            return
        try:
            usable, removed = passed_parts(data, compiled_validator(schema))
        except (KeyError, IndexError, TypeError, ValueError, RecursionError):
            usable, removed = None, set()  # best effort: never worse than stopping here
        if usable is None:
            ctx.stop = True
            return
        ctx.removed = removed
        # A new document object: the loaded one (which editors may hold) keeps what was written.
        ctx.loaded = dataclasses.replace(ctx.loaded, document=dataclasses.replace(ctx.doc, data=usable))
    try:
        ctx.spec = build_spec(ctx.doc.data)
    except SettingError as exc:  # what a schema cannot say: "0s" as a limit, a malformed URL
        ctx.error("invalid-value", str(exc), tuple(exc.path), hint=exc.hint)
        ctx.stop = True


def check_durations(ctx: CompileContext) -> None:
    """An execution may not be longer than the whole run (the schema checked the formats)."""
    data = ctx.doc.data
    spec = ctx.spec
    if spec and spec.budget.time is not None and spec.budget.exec_timeout > spec.budget.time \
            and "exec_timeout" in (data.get("budget") or {}):
        ctx.warning("budget-exec-timeout", "budget.exec_timeout is longer than budget.time; "
                    "executions will be cut to the time left", ("budget", "exec_timeout"))


def _fmt_seconds(seconds: float) -> str:
    from aira_dsl.templates.filters import humanize

    return humanize(seconds)


def check_debug_time(ctx: CompileContext) -> None:
    """A ``policy.max_debug_time`` shorter than an execution may cut every debug chain after its
    first step (a warning: that can be meant)."""
    spec = ctx.spec
    assert spec is not None
    if spec.policy is None or "max_debug_time" not in (ctx.doc.data.get("policy") or {}):
        return
    seconds = spec.policy.params.get("max_debug_time")
    path: Path = ("policy", "max_debug_time")
    if seconds is None:  # a zero cap is refused where the typed spec is built (must be > 0)
        return
    limit = spec.budget.exec_timeout
    if seconds < limit:
        ctx.warning("debug-time-short",
                    f"policy.max_debug_time ({_fmt_seconds(seconds)}) is shorter than one execution may take "
                    f"(budget.exec_timeout: {_fmt_seconds(limit)})", path,
                    hint="one slow execution can then end a debug chain after its first debug step; "
                         "AIRA-dojo's evolutionary agent caps chains at 6h with 4h executions")


def check_temperature_schedule(ctx: CompileContext) -> None:
    """An evolutionary temperature schedule needs ``num_generations`` to decay over, and
    normally cools (the reference's ``initial_temp`` → ``final_temp`` shifts to exploitation)."""
    spec = ctx.spec
    assert spec is not None
    if spec.policy is None or spec.policy.kind != "evolutionary":
        return
    written = ctx.doc.data.get("policy") or {}
    params = spec.policy.params
    initial, final = params.get("initial_temperature"), params.get("final_temperature")
    start = params["temperature"] if initial is None else initial
    end = start if final is None else final
    if "temperature" in written and "initial_temperature" in written and initial is not None:
        ctx.warning("temperature-ignored", "policy.temperature is ignored when initial_temperature is set",
                    ("policy", "temperature"), on_key=True,
                    hint="remove temperature, or leave initial_temperature out for a constant temperature")
    if start != end and params.get("num_generations") is None and not spec.abstract:
        where: Path = ("policy", "final_temperature") if "final_temperature" in written else (
            "policy", "initial_temperature")
        ctx.error("temperature-schedule-length",
                  f"the temperature goes from {start:g} to {end:g} over num_generations, which is not set",
                  where, hint="set policy.num_generations (AIRA-dojo: 100), or give both ends the same value")
    if final is not None and end > start:
        ctx.warning("temperature-rises",
                    f"final_temperature ({end:g}) is above the initial temperature ({start:g}): "
                    "parent sampling gets more random over the generations", ("policy", "final_temperature"),
                    hint="a schedule normally cools (AIRA-dojo: initial_temp ≥ final_temp); "
                         "swap the values unless rising exploration is what you want")


def check_model_refs(ctx: CompileContext) -> None:
    """Every operator names a model defined under ``models``."""
    assert ctx.spec is not None
    if ctx.spec.abstract:
        return  # a spec extending this one may define the model
    models = list(ctx.spec.models)
    for name, op in ctx.spec.operators.items():
        if op.model not in ctx.spec.models and not (("models",) in ctx.removed or ctx.refused("models", op.model)):
            guess = did_you_mean(op.model, models)
            hint = f"did you mean '{guess}'?" if guess else (
                f"defined models: {', '.join(models)}" if models else "add it under `models:`")
            ctx.error("unknown-model", f"operator '{name}' uses model '{op.model}', which is not defined",
                      ("operators", name, "model"), hint=hint)


def check_policy_roles(ctx: CompileContext) -> None:
    """The policy's roles are bound to existing operators of the matching kind."""
    spec = ctx.spec
    assert spec is not None
    if spec.policy is None or spec.abstract:
        return
    policy = spec.policy
    operators = spec.operators
    for role, target in policy.use.items():
        if target not in operators and ctx.refused("operators", target):
            continue  # the schema refused that operator: already reported
        if target not in operators:
            guess = did_you_mean(target, operators)
            ctx.error("unknown-operator", f"policy.use.{role} names operator '{target}', which is not defined",
                      ("policy", "use", role), hint=f"did you mean '{guess}'?" if guess else
                      f"defined operators: {', '.join(operators)}")
        elif not _plays(operators[target].kind, role):
            ctx.error("operator-kind-mismatch",
                      f"policy.use.{role} names '{target}', an operator of kind {operators[target].kind}",
                      ("policy", "use", role), hint=f"the {role} role needs an operator of kind {_kinds_for(role)}")
    for role in POLICY_ROLES[policy.kind]:
        if role in policy.use:
            continue
        if role not in operators and (ctx.refused("operators", role) or ctx.refused("policy", "use")):
            continue  # the operator (or the binding) was refused by the schema: already reported
        if role not in operators:
            candidates = [n for n, op in operators.items() if _plays(op.kind, role)]
            hint = (f"bind one with `use: {{{role}: {candidates[0]}}}`" if candidates
                    else f"add an operator of kind {role}")
            ctx.error("missing-role", f"the {policy.kind} policy needs a '{role}' operator", ("policy",),
                      hint=hint, on_key=True)
        elif not _plays(operators[role].kind, role):
            ctx.error("operator-kind-mismatch",
                      f"operator '{role}' has kind {operators[role].kind}, but the {policy.kind} policy "
                      f"uses it as its {role} operator", ("operators", role, "kind"),
                      hint=f"set kind: {_kinds_for(role)}, or bind another operator with policy.use.{role}")


def _plays(kind: str, role: str) -> bool:
    """Whether an operator of ``kind`` may be bound to policy ``role`` (the kind table says)."""
    return kind in kind_names() and role in get_kind(kind).roles


def _kinds_for(role: str) -> str:
    return " or ".join(role_kinds(role)) or role


def _expr_diagnostics(ctx: CompileContext, path: Path, errors: list[Any]) -> None:
    for err in errors:
        file, line, col = ctx.doc.offset_position(path, err.start)
        _, end_line, end_col = ctx.doc.offset_position(path, max(err.end, err.start + 1))
        severity = Severity.WARNING if getattr(err, "severity", "error") == "warning" else Severity.ERROR
        if line == 0:  # the expression came from --set: no file position
            ctx.add(Diagnostic(err.code, err.message, severity, file=file, hint=err.hint))
            continue
        ctx.add(Diagnostic(err.code, err.message, severity, file=file, line=line, col=col,
                           end_line=end_line if end_line == line else None,
                           end_col=end_col if end_line == line else None, hint=err.hint))


def check_expressions(ctx: CompileContext) -> None:
    """Fitness and memory expressions parse and type-check against their documented context."""
    from aira_dsl.expr import compile_expression

    spec = ctx.spec
    assert spec is not None
    policy_params = {"kind": spec.policy.kind, **spec.policy.params} if spec.policy else {}
    items: list[tuple[Path, str, str]] = [
        (("fitness", "metric"), spec.fitness.metric, "fitness.metric"),
        (("fitness", "buggy"), spec.fitness.buggy, "fitness.buggy"),
        (("fitness", "value"), spec.fitness.value, "fitness.value"),
    ]
    for name, op in spec.operators.items():
        if op.memory.where is not None:
            items.append((("operators", name, "memory", "where"), op.memory.where, "memory.where"))
    for path, source, field_name in items:
        expr, errors = compile_expression(source, field_name, policy=policy_params, vars=spec.vars)
        _expr_diagnostics(ctx, path, errors)
        if expr is not None and not any(getattr(e, "severity", "error") == "error" for e in errors):
            ctx.expressions[path] = expr


def _uses_review(ctx: CompileContext) -> bool:
    """Whether a checked fitness expression reads ``review`` or ``review.*`` (names in its AST:
    a string literal such as ``'review.x'`` is text, not a read)."""
    from aira_dsl.expr import names_used

    return any(path[0] == "fitness" and any(name == "review" or name.startswith("review.")
                                            for name in names_used(expr))
               for path, expr in ctx.expressions.items())


def check_analyze(ctx: CompileContext) -> None:
    """Fitness that reads ``review.*`` needs an operator that produces the review (runs after
    :func:`check_expressions`, whose parsed expressions it reads)."""
    spec = ctx.spec
    assert spec is not None
    if spec.abstract or spec.policy is None:
        return
    analyze_name = spec.policy.role("analyze")
    op = spec.operators.get(analyze_name)
    if ctx.refused("operators", analyze_name) or ctx.refused("policy", "use"):
        return  # the schema refused the operator or its binding: already reported
    if _uses_review(ctx) and (op is None or op.kind != "analyze"):
        path: Path = ("fitness",) if "fitness" in ctx.doc.data else ("operators",)
        ctx.error("missing-analyze", "the fitness rules read review.*, but no analyze operator is defined",
                  path, hint="add an operator of kind analyze (bound as 'analyze' or via policy.use.analyze), "
                  "or base fitness on reported.* or hidden.score", on_key=True)


def check_complexity(ctx: CompileContext) -> None:
    """Complexity rungs go up: increasing ``below`` bounds, and only the last rung may omit it."""
    spec = ctx.spec
    assert spec is not None
    for name, op in spec.operators.items():
        last = 0
        for index, rung in enumerate(op.complexity):
            path: Path = ("operators", name, "complexity", index)
            if rung.below is None and index != len(op.complexity) - 1:
                ctx.error("complexity-order", "only the last complexity rung may leave out `below`",
                          path, hint="later rungs can never apply")
            if rung.below is not None and rung.below <= last:
                ctx.error("complexity-order", f"`below` must increase from rung to rung ({rung.below} ≤ {last})",
                          (*path, "below"))
            last = rung.below or last
        if op.complexity and op.kind in kind_names() and not get_kind(op.kind).complexity:
            users = " and ".join(k.name for k in map(get_kind, kind_names()) if k.complexity)
            ctx.warning("complexity-unused", f"complexity cues are given to {users} operators; "
                        f"'{name}' is {op.kind}", ("operators", name, "complexity"), on_key=True)


def find_prompt_roots(spec_file: FsPath) -> list[FsPath]:
    """``prompts/`` folders where shared fragments (``_*.j2``) are looked up: the nearest one
    found walking up from the spec's folder."""
    return list(_prompt_roots(os.path.abspath(spec_file.parent), os.getcwd()))


@functools.lru_cache(maxsize=256)
def _prompt_roots(folder_text: str, cwd: str) -> tuple[FsPath, ...]:
    roots = []
    folder_path = FsPath(folder_text).resolve()
    for folder in [folder_path, *folder_path.parents]:
        candidate = folder / "prompts"
        if candidate.is_dir():
            relative = os.path.relpath(candidate)
            roots.append(FsPath(relative if not relative.startswith("..") else candidate))
            break
    return tuple(roots)


_TEMPLATE_CHECKS: dict[tuple[object, ...], tuple[tuple[object, ...], list[Diagnostic]]] = {}


def _files_fingerprint(files: list[FsPath]) -> tuple[object, ...]:
    """(path, size, mtime) of each file: changes whenever one of the templates may have."""
    entries: list[object] = []
    for file in files:
        try:
            identity = file_identity(file)  # an editor's unsaved text counts as a change
        except OSError:
            return ()
        entries.append((str(file), *identity))
    return tuple(entries)


def _template_files(path: FsPath, roots: list[FsPath]) -> list[FsPath] | None:
    """The files a template and its includes are read from (None if that cannot be worked out)."""
    from aira_dsl.diagnostics import DiagnosticError
    from aira_dsl.templates import collect_sources, template_name
    from aira_dsl.templates.store import FileStore

    try:
        names = collect_sources(path, roots)
    except DiagnosticError:
        return None
    entry, search = template_name(path, roots)
    store = FileStore(search, pinned={entry: path})
    files = [store.path_of(name) for name in names]
    return None if any(f is None for f in files) else [f for f in files if f is not None]


def _check_template_cached(path: FsPath, kind: str, roots: list[FsPath],
                           var_names: list[str]) -> tuple[list[Diagnostic], list[FsPath]]:
    """``check_template``, memoised per process while none of the files it read changes (a
    folder of specs shares a handful of templates), and the files the template includes (what
    :func:`_included_files` says, worked out once for both). Templates with errors are not
    memoised."""
    from aira_dsl.templates import check_template

    key = (realpath(path), kind, tuple(map(str, roots)), tuple(var_names))
    cached = _TEMPLATE_CHECKS.get(key)
    if cached is not None:
        files = [FsPath(str(entry[0])) for entry in cached[0] if isinstance(entry, tuple)]
        if cached[0] and _files_fingerprint(files) == cached[0]:
            return list(cached[1]), files[1:]
    found = check_template(path, kind, search_paths=roots, var_names=var_names)
    files_used = _template_files(path, roots)
    if files_used and not any(d.is_error for d in found):
        if len(_TEMPLATE_CHECKS) > 1024:
            _TEMPLATE_CHECKS.clear()
        _TEMPLATE_CHECKS[key] = (_files_fingerprint(files_used), list(found))
    return found, files_used[1:] if files_used is not None else _included_files(path, None, roots)


def check_prompts(ctx: CompileContext) -> None:
    """Prompt files exist inside the allowed roots (:mod:`aira_dsl.roots`: their text goes to the
    model endpoint and into diagnostics), and each template only uses what its operator kind
    provides. Shared-fragment folders outside the allowed roots are not searched."""
    from aira_dsl.templates import check_template_source

    spec = ctx.spec
    assert spec is not None
    var_names = list(spec.vars)
    roots_of: dict[FsPath, tuple[FsPath, ...]] = {}  # allowed roots per owner file: a few files, many prompts
    for name, op in spec.operators.items():
        for role in ("system", "user"):
            value = getattr(op.prompt_parts, role)
            if value is None:
                continue
            path: Path = ("operators", name, "prompt") if isinstance(ctx.doc.data["operators"][name]["prompt"], str) \
                else ("operators", name, "prompt", role)
            owner = _owner_file(ctx, path)
            if owner not in roots_of:
                roots_of[owner] = allowed_roots(owner)
            allowed = roots_of[owner]
            roots = find_prompt_roots(owner)
            if PromptSpec.is_file_reference(value):
                shipped = resolve_package_ref(value) if is_package_ref(value) else None
                file = shipped or FsPath(owner.parent, value)
                shown = file if shipped or FsPath(value).is_absolute() else FsPath(
                    _normalize(owner.parent / value))
                if shipped is not None:
                    roots = [shipped_path("prompts")]
                else:  # before any read: a file outside the allowed roots is never shown
                    outside = check_inside(file, allowed)
                    if outside is not None:
                        ctx.error(OUTSIDE_CODE, f"prompt file '{value}' is outside the allowed roots: {outside}",
                                  path, hint=outside_hint("prompt paths"))
                        continue
                    roots = [root for root in roots if is_inside(root, allowed)]
                if not file.is_file():
                    ctx.error("missing-prompt", f"prompt file '{value}' not found (looked for {shown})", path,
                              hint="prompt paths are relative to the spec file that names them")
                    continue
                ctx.templates.append(TemplateRef(name, role, shown, None, path, roots))
                found, included = _check_template_cached(shown, op.kind, roots, var_names)
                ctx.diagnostics.extend(_confine_includes(ctx, path, value, found, allowed, included))
            elif _looks_like_path(value):  # `prompt: /etc/hostname` would be sent as that text
                target = owner.parent / FsPath(value.strip()).expanduser()
                outside = check_inside(target, allowed)
                if outside is not None:
                    ctx.error(OUTSIDE_CODE, f"prompt '{value.strip()}' names a file outside the allowed roots: "
                              f"{outside}", path, hint=outside_hint("prompt paths"))
                else:
                    ctx.error("prompt-not-template", f"prompt '{value.strip()}' looks like a file path, but prompt "
                              "files are Jinja templates ending in .j2; as written it is sent as that literal text",
                              path, hint="name a .j2 template, or write the prompt text itself")
            else:
                span = ctx.doc.span(path)
                info = ctx.doc.scalars.get(path)
                offset = (span.line if info and info.style in ("|", ">") else span.line - 1) if span else 0
                roots = [root for root in roots if is_inside(root, allowed)]
                ctx.templates.append(TemplateRef(name, role, None, value, path, [*roots, owner.parent]))
                found = check_template_source(
                    value, ctx.file_of(path), op.kind, search_paths=[*roots, owner.parent],
                    var_names=var_names, line_offset=offset, col_offset=_inline_columns(ctx, path))
                ctx.diagnostics.extend(_confine_includes(ctx, path, "inline template", found, allowed,
                                                         _included_files(None, value, [*roots, owner.parent])))


def _included_files(entry: FsPath | None, inline: str | None, roots: list[FsPath]) -> list[FsPath]:
    """The files a template (a file, or inline text) includes, transitively, as the plan would
    embed them; empty when that cannot be worked out (the template check reports why)."""
    from aira_dsl.diagnostics import DiagnosticError
    from aira_dsl.templates import collect_inline_sources, collect_sources, template_name
    from aira_dsl.templates.store import FileStore

    try:
        if entry is not None:
            names = list(collect_sources(entry, roots))[1:]
            _, search = template_name(entry, roots)
            store = FileStore(search, pinned={})
        else:
            names = list(collect_inline_sources(inline or "", "inline.j2", roots))[1:]
            store = FileStore(roots)
    except (DiagnosticError, OSError, RecursionError, ValueError):
        return []
    return [file for file in map(store.path_of, names) if file is not None]


def _confine_includes(ctx: CompileContext, path: Path, what: str, found: list[Diagnostic],
                      allowed: tuple[FsPath, ...], included: list[FsPath]) -> list[Diagnostic]:
    """``found`` without findings positioned in files outside the allowed roots (rendering them
    would quote such a file), plus an error at the prompt for each such file it includes.

    Include names cannot hold ``..`` or be absolute, but a symbolic link in a prompts folder can
    lead anywhere (git stores links): its text would go to the model endpoint with the prompt."""
    outside = {realpath(file) for file in included if not is_inside(file, allowed)}
    outside |= {realpath(d.file) for d in found
                if d.file and os.path.isfile(d.file) and not is_inside(d.file, allowed)}
    for real in sorted(outside):
        ctx.error(OUTSIDE_CODE, f"{what if what == 'inline template' else f'prompt {what!r}'} includes a "
                  f"template that resolves to {real}, outside the allowed roots", path,
                  hint=outside_hint("included templates (and the links they are reached through)"))
    return [d for d in found if not (d.file and os.path.isfile(d.file) and realpath(d.file) in outside)]


def _owner_file(ctx: CompileContext, path: Path) -> FsPath:
    """The file whose folder relative paths at ``path`` start from: the spec or base that wrote
    the value; for a ``--set`` value (no file), a name in the working folder."""
    file = ctx.file_of(path)
    return FsPath.cwd() / "--set" if file.startswith("--set ") else FsPath(file)


def _looks_like_path(value: str) -> bool:
    """One word starting like a path (``/``, ``./``, ``../``, ``~/``): meant as a file, not as text."""
    text = value.strip()
    return bool(text) and not any(c.isspace() for c in text) and "{" not in text \
        and text.startswith(("/", "./", "../", "~/"))


def _inline_columns(ctx: CompileContext, path: Path) -> int:
    """How far right of its own columns an inline template sits in the spec: a block scalar's
    indentation (YAML strips exactly that from each line), or where a one-line scalar starts."""
    span, info = ctx.doc.span(path), ctx.doc.scalars.get(path)
    if span is None or info is None:
        return 0
    if info.style in ("|", ">"):
        for line in (ctx.doc.sources.get(span.file) or "").splitlines()[span.line:]:
            if line.strip():
                return len(line) - len(line.lstrip(" "))
        return 0
    return span.col - 1 + (info.style in ("'", '"')) if span.line == span.end_line else 0


def _normalize(path: FsPath) -> str:
    return os.path.normpath(path)


def check_unused_operators(ctx: CompileContext) -> None:
    """Operators no role refers to are probably a mistake (a renamed role, say)."""
    spec = ctx.spec
    assert spec is not None
    if spec.policy is None or spec.abstract or ctx.refused("policy", "use"):
        return  # a refused role binding would make its operator look unused
    roles = [*POLICY_ROLES[spec.policy.kind], "analyze"]
    used = {spec.policy.role(r) for r in roles}
    for name in spec.operators:
        if name not in used:
            ctx.warning("unused-operator", f"operator '{name}' is not used by the {spec.policy.kind} policy",
                        ("operators", name), on_key=True,
                        hint="bind it to a role with policy.use, or remove it")


def check_sandbox_profile(ctx: CompileContext) -> None:
    """``execution.sandbox`` names a profile that exists (a warning: profiles are looked up where
    the run starts — ``./runtimes`` and the shipped ``runtimes/`` — which may differ from here);
    a profile given by path must lie on the profile search path (an error)."""
    from aira_dsl.profile_paths import default_search_dirs, is_profile_path, profile_path_problem

    spec = ctx.spec
    assert spec is not None
    if "execution" not in ctx.doc.data or "sandbox" not in (ctx.doc.data.get("execution") or {}):
        return  # the default profile ships with aira-dsl
    name = spec.execution.sandbox
    owner = _owner_file(ctx, ("execution", "sandbox"))
    spec_dir = owner.parent
    if is_profile_path(name):
        candidates = [FsPath(name).expanduser(), spec_dir / FsPath(name).expanduser()]
        dirs = default_search_dirs()
        inside = [c for c in candidates if profile_path_problem(c, dirs, owner) is None]
        if not inside:  # checked before any read: nothing of the file may be shown
            problem = profile_path_problem(candidates[-1], dirs, owner)
            ctx.error(OUTSIDE_CODE, f"sandbox profile '{name}' is outside the profile search path: {problem}",
                      ("execution", "sandbox"),
                      hint="name a profile (local, local-unsafe, docker-cpu, docker-gpu, or runtimes/<name>.yaml), "
                           "or give a path inside ./runtimes or this project")
            return
        candidates = inside
    else:
        shipped = shipped_path("runtimes")
        folders = [FsPath.cwd() / "runtimes", shipped,
                   *(folder / "runtimes" for folder in [spec_dir.resolve(), *spec_dir.resolve().parents])]
        candidates = [folder / f"{name}{suffix}" for folder in folders for suffix in (".yaml", ".yml")]
    if not any(path.is_file() for path in candidates):
        ctx.warning("unknown-sandbox", f"sandbox profile '{name}' was not found", ("execution", "sandbox"),
                    hint="profiles are runtimes/<name>.yaml files (shipped: local, local-unsafe, docker-cpu, "
                         "docker-gpu); `aira-dsl run` looks in ./runtimes and the shipped folder")


CHECK_PASSES: list[Pass] = [
    check_loaded,
    check_schema,
    check_durations,
    check_debug_time,
    check_temperature_schedule,
    check_model_refs,
    check_policy_roles,
    check_expressions,
    check_analyze,
    check_complexity,
    check_prompts,
    check_sandbox_profile,
    check_unused_operators,
]
"""The check stage, in order. ``validate`` runs exactly these; ``compile`` runs them and lowers."""


def run_checks(ctx: CompileContext, passes: list[Pass] | None = None) -> CompileContext:
    for check in passes or CHECK_PASSES:
        if ctx.stop:
            break
        check(ctx)
    return ctx
