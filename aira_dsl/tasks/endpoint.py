"""The client of MLE-bench's validation endpoint (the grading server's ``POST /validate``).

Inside MLE-bench's agent container a grading server listens on ``http://localhost:5000``; its
``/validate`` route takes a multipart upload named ``file`` and answers ``{"result": message}``,
where the message is ``validate_submission``'s ("Submission is valid." or "Submission invalid!
..."), or HTTP 500 with ``{"error", "details"}`` when the server itself failed. The shipped
``/home/validate_submission.sh`` is a ``curl`` call to it. This module speaks that protocol
with the standard library, bounded in time and in the size of what it reads back: the answer
comes from outside the process and is treated as untrusted text.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_URL", "EndpointAnswer", "EndpointError", "url_from_script", "validate_remotely"]

DEFAULT_URL = "http://localhost:5000/validate"
"""Where MLE-bench's grading server answers (environment/validate_submission.sh)."""
MAX_ANSWER_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 4000
VALID_PREFIX = "Submission is valid"
_SCRIPT_URL = re.compile(r"""^\s*SERVER_URL=["']?([^"'\s]+)""", re.MULTILINE)


class EndpointError(Exception):
    """The endpoint could not give a verdict (unreachable, server error, malformed answer)."""


@dataclass(frozen=True)
class EndpointAnswer:
    valid: bool
    message: str


def url_from_script(script: Path) -> str | None:
    """The ``SERVER_URL=`` a ``validate_submission.sh`` posts to (None if it names none)."""
    try:
        text = script.read_text(encoding="utf-8", errors="replace")[:20_000]
    except OSError:
        return None
    match = _SCRIPT_URL.search(text)
    return match.group(1) if match and match.group(1).startswith(("http://", "https://")) else None


def _multipart(path: Path, data: bytes) -> tuple[bytes, str]:
    boundary = "aira-" + secrets.token_hex(12)
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def _clean(text: str) -> str:
    text = "".join(c for c in text if c == "\n" or c == "\t" or c.isprintable())
    return text[:MAX_MESSAGE_CHARS]


def validate_remotely(url: str, path: Path, *, timeout: float = 300.0, max_upload: int) -> EndpointAnswer:
    """POST ``path`` to ``url``; the verdict, or :class:`EndpointError` when there is none."""
    if not url.startswith(("http://", "https://")):
        raise EndpointError(f"the validation URL {url!r} is not http(s)")
    size = path.stat().st_size
    if size > max_upload:
        raise EndpointError(f"the submission ({size} bytes) is larger than the upload limit ({max_upload} bytes)")
    body, boundary = _multipart(path, path.read_bytes())
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        detail = exc.read(MAX_ANSWER_BYTES).decode("utf-8", "replace")
        raise EndpointError(f"the validation endpoint answered HTTP {exc.code}: {_clean(detail)[:500]}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EndpointError(f"the validation endpoint {url} cannot be reached: {reason}") from None
    if len(raw) > MAX_ANSWER_BYTES:
        raise EndpointError(f"the validation endpoint's answer is larger than {MAX_ANSWER_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise EndpointError("the validation endpoint's answer is not JSON") from None
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, str):
        raise EndpointError("the validation endpoint's answer has no 'result' text")
    message = _clean(result).strip()
    return EndpointAnswer(message.startswith(VALID_PREFIX), message)
