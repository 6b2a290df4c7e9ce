"""A scripted OpenAI-compatible HTTP server: the test, benchmark and offline-demo stand-in for a model.

No model is reachable on the machines aira-dsl is developed and tested on, so tests drive the real
client over real HTTP against this server. It speaks enough of the Chat Completions API for the
client (plain answers, tool calls, ``response_format``, server-sent-event streaming, usage), and
the same answers through the Responses API (``POST /v1/responses``, plain and streamed, for models
set to ``api: responses``), and plays answers and injected faults from a script (format: :mod:`aira_dsl.llm.script`,
``docs/llm.md``). It is a test instrument: it understands nothing and answers what it is told.

Use it as a context manager; it listens on 127.0.0.1 and an OS-chosen port by default::

    with ScriptedServer({"rules": [{"answers": [{"code": "print(1)"}]}]}) as server:
        settings = ModelSettings(name="m", model="scripted", base_url=server.base_url, api_key_env=None)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aira_dsl.llm.hostile import (
    SLOW_DRIP_SECONDS,
    RawResponse,
    as_list_content,
    broken_response,
    broken_responses_body,
    poison,
)
from aira_dsl.llm.script import DECORATING_FAULTS, Answer, Decision, Fault, RequestView, Script, load_script

__all__ = ["ScriptedServer"]

_PROSE_ONLY = ("I would start from a gradient-boosted tree model on the tabular features, tune its depth "
               "with five-fold cross-validation, and write the predictions to the submission file.")


def _tokens(text: str) -> int:
    """A rough token count (four characters a token), enough for accounting tests."""
    return max(1, len(text) // 4) if text else 0


def _message_text(body: Mapping[str, Any]) -> str:
    parts = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return "\n".join(parts)


def _response_format(body: Mapping[str, Any]) -> str | None:
    fmt = body.get("response_format")
    return str(fmt.get("type")) if isinstance(fmt, Mapping) else None


def _offered_tool(body: Mapping[str, Any]) -> str | None:
    """The function the answer should call, when the request offers tools and allows a call."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, Mapping)]
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return None
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        return str(choice["function"].get("name"))
    names = [str((t.get("function") or {}).get("name")) for t in tools]
    return "submit_review" if "submit_review" in names else names[0]


def _chat_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Responses API request as the chat request it stands for: ``instructions`` and ``input``
    as messages, flat function tools in the chat form, ``text.format`` as ``response_format``.
    Rules, refusals and answers read this view, so a script serves both APIs alike."""
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str):
        messages.append({"role": "system", "content": body["instructions"]})
    given = body.get("input")
    items = [{"role": "user", "content": given}] if isinstance(given, str) else given
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        content = item.get("content")
        if isinstance(content, list):
            content = [{"type": "text", "text": str(p.get("text", ""))} for p in content if isinstance(p, Mapping)]
        messages.append({"role": str(item.get("role", "user")), "content": content})
    view: dict[str, Any] = {"model": body.get("model", ""), "messages": messages, "stream": body.get("stream")}
    tools = [{"type": "function", "function": {k: t.get(k) for k in ("name", "description", "parameters")}}
             for t in body.get("tools") or [] if isinstance(t, Mapping)]
    if tools:
        view["tools"] = tools
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        choice = {"type": "function", "function": {"name": choice.get("name")}}
    if choice is not None:
        view["tool_choice"] = choice
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if isinstance(fmt, Mapping):
        view["response_format"] = {"type": fmt.get("type")}
    return view


class _Reply:
    """An assistant message to send: content, reasoning, tool call, usage."""

    def __init__(self, content: str, *, reasoning: str = "", tool: str | None = None,
                 arguments: str | None = None, finish_reason: str | None = None,
                 usage: Mapping[str, int] | None = None, prompt_text: str = "") -> None:
        self.content = content
        self.reasoning = reasoning
        self.tool = tool
        self.arguments = arguments
        self.finish_reason = finish_reason or ("tool_calls" if tool else "stop")
        given = dict(usage or {})
        self.prompt_tokens = given.get("prompt_tokens", _tokens(prompt_text))
        self.completion_tokens = given.get(
            "completion_tokens", _tokens(content) + _tokens(arguments or "") + _tokens(reasoning))
        self.reasoning_tokens = given.get("reasoning_tokens", _tokens(reasoning))

    def usage(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
                "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens}}

    def response_usage(self) -> dict[str, Any]:
        """The same counts under the Responses API's names."""
        return {"input_tokens": self.prompt_tokens, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": self.completion_tokens,
                "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
                "total_tokens": self.prompt_tokens + self.completion_tokens}


def _reply_for(answer: Answer, body: Mapping[str, Any]) -> _Reply:
    """Render a scripted answer in the form the request asks for (tool call, JSON, or prose)."""
    prompt = _message_text(body)
    if answer.review is not None:
        tool = _offered_tool(body)
        arguments = json.dumps(dict(answer.review))
        if tool is not None:
            content, call = "", (tool, arguments)
        elif _response_format(body) in ("json_schema", "json_object"):
            content, call = arguments, None
        else:
            content, call = f"Here is my review.\n```json\n{arguments}\n```", None
    elif answer.code is not None:
        plan = f"{answer.plan.strip()}\n\n" if answer.plan else ""
        content, call = f"{plan}```python\n{answer.code.rstrip()}\n```", None
    else:
        content, call = answer.text or "", None
    if answer.think:
        content = f"<think>{answer.think}</think>\n{content}"
    return _Reply(content, reasoning=answer.reasoning or "", tool=call[0] if call else None,
                  arguments=call[1] if call else None, finish_reason=answer.finish_reason, usage=answer.usage,
                  prompt_text=prompt)


def _malformed_review(body: Mapping[str, Any]) -> _Reply:
    prompt = _message_text(body)
    tool = _offered_tool(body)
    if tool is not None:
        return _Reply("", tool=tool, arguments='{"is_bug": false, "summary": "the run fin', prompt_text=prompt)
    return _Reply('Verdict: {"is_bug": maybe, "summary": unclear', prompt_text=prompt)


class ScriptedServer:
    """A Chat Completions server on a background thread, answering from a script.

    ``requests`` logs every request (body, the ``X-Aira-*`` attribution, which rule and outcome);
    ``max_in_flight`` is the most requests it handled at once. ``on_request`` (optional) is called
    with each log entry, from the server's threads.
    """

    def __init__(self, script: Mapping[str, Any] | str | Path, *, host: str = "127.0.0.1", port: int = 0,
                 on_request: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.script: Script = load_script(script)
        self.host = host
        self.port = port
        self.on_request = on_request
        self._requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._in_flight = 0
        self.max_in_flight = 0
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``, the value for a model's ``base_url``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def start(self) -> ScriptedServer:
        if self._httpd is not None:
            return self
        server = self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class Handler(_Handler):
            owner = server

        class HTTPServer(ThreadingHTTPServer):
            daemon_threads = True
            address_family = family
            request_queue_size = 128  # the default 5 refuses bursts of concurrent clients

        self._stop.clear()
        self._httpd = HTTPServer((self.host, self.port), Handler)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"scripted-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, wake requests that hang or wait, and close every open connection."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stop.set()
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of the request log."""
        with self._lock:
            return list(self._requests)

    def chat_requests(self) -> list[dict[str, Any]]:
        """Only the chat completion requests of the log."""
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def responses_requests(self) -> list[dict[str, Any]]:
        """Only the Responses API requests of the log."""
        return [r for r in self.requests if r["path"].rstrip("/").endswith("/responses")]

    # ------------------------------------------------------------------------------ bookkeeping

    def _log(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(entry)
        if self.on_request is not None:
            self.on_request(entry)

    def _enter(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _leave(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _begin(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _wait(self, seconds: float | None) -> None:
        """Sleep, but wake at once when the server stops."""
        self._stop.wait(seconds)

    def _completion(self, reply: _Reply, model: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.tool:
            message["tool_calls"] = [{"id": f"call_{next(self._ids)}", "type": "function",
                                      "function": {"name": reply.tool, "arguments": reply.arguments}}]
        completion = {"id": f"chatcmpl-scripted-{next(self._ids)}", "object": "chat.completion",
                      "created": int(time.time()), "model": model,
                      "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}]}
        if self.script.report_usage:
            completion["usage"] = reply.usage()
        return completion

    def _response(self, reply: _Reply, model: str, *, list_content: bool = False) -> dict[str, Any]:
        """``reply`` as a Responses API body (``usage`` under its names when the script reports it)."""
        output: list[dict[str, Any]] = []
        if reply.reasoning:
            output.append({"type": "reasoning", "id": f"rs_{next(self._ids)}",
                           "summary": [{"type": "summary_text", "text": reply.reasoning}]})
        if reply.content or not reply.tool:
            half = len(reply.content) // 2
            parts = ([reply.content[:half], reply.content[half:]] if list_content else [reply.content])
            output.append({"type": "message", "id": f"msg_{next(self._ids)}", "status": "completed",
                           "role": "assistant",
                           "content": [{"type": "output_text", "text": part, "annotations": []} for part in parts]})
        if reply.tool:
            output.append({"type": "function_call", "id": f"fc_{next(self._ids)}", "call_id": f"call_{next(self._ids)}",
                           "name": reply.tool, "arguments": reply.arguments or "", "status": "completed"})
        incomplete = reply.finish_reason == "length"
        body: dict[str, Any] = {
            "id": f"resp_scripted_{next(self._ids)}", "object": "response", "created_at": int(time.time()),
            "model": model, "status": "incomplete" if incomplete else "completed", "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None, "output": output}
        if self.script.report_usage:
            body["usage"] = reply.response_usage()
        return body


def _twist_text(reply: _Reply, fault: Fault) -> None:
    """Append a text-twisting fault's characters to the answer (and reasoning, tool arguments)."""
    extra = poison(fault)
    reply.content += extra
    if fault.kind == "huge_answer":
        return
    reply.reasoning += extra
    if reply.arguments:
        try:
            arguments = json.loads(reply.arguments)
        except ValueError:
            return
        if isinstance(arguments, dict):
            arguments["summary"] = f"{arguments.get('summary', '')}{extra}"
            reply.arguments = json.dumps(arguments, ensure_ascii=False)


def _pieces(text: str, size: int = 24) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start: start + size]


class _Handler(BaseHTTPRequestHandler):
    """One connection; ``owner`` is set on a subclass per server."""

    owner: ScriptedServer
    api = "chat"
    """Which API the request being answered used: chat, or responses (``POST /v1/responses``)."""
    protocol_version = "HTTP/1.1"
    server_version = "aira-dsl-scripted/1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: without this, +40 ms a call

    def setup(self) -> None:
        super().setup()
        self.owner._enter(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.owner._leave(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # quiet; the request log has it all
        return

    # ------------------------------------------------------------------------------ plumbing

    def _send_json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self._send_bytes(status, data, headers)

    def _send_bytes(self, status: int, data: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _error(self, status: int, message: str, kind: str, code: str | None = None,
               headers: Mapping[str, str] | None = None) -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "code": code}}, headers)

    def do_GET(self) -> None:
        self.owner._log({"time": time.time(), "path": self.path, "method": "GET"})
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send_json(200, {"object": "list", "data": [
                {"id": "scripted", "object": "model", "created": 0, "owned_by": "aira-dsl"}]})
        elif self.path.rstrip("/") in ("/health", "/v1/health"):
            self._send_json(200, {"status": "ok"})
        else:
            self._error(404, f"no route {self.path}", "not_found_error")

    def do_POST(self) -> None:
        owner = self.owner
        owner._begin()
        try:
            self._chat()
        finally:
            owner._end()

    # ------------------------------------------------------------------------------ chat

    def _chat(self) -> None:
        owner = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        entry: dict[str, Any] = {"time": time.time(), "path": self.path, "method": "POST",
                                 "operator": self.headers.get("X-Aira-Operator") or None,
                                 "kind": self.headers.get("X-Aira-Kind") or None,
                                 "node": self.headers.get("X-Aira-Node") or None}
        # Any prefix before the API's own path is accepted, as behind a gateway (Azure's /openai/v1).
        route = self.path.split("?", 1)[0].rstrip("/")
        self.api = "responses" if route.endswith("/responses") else "chat"
        entry["api"] = self.api
        if self.api == "chat" and not route.endswith("/chat/completions"):
            entry["outcome"] = "no-route"
            owner._log(entry)
            self._error(404, f"no route {self.path}", "not_found_error")
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            entry["outcome"] = "bad-json"
            owner._log(entry)
            self._error(400, "the request body is not a JSON object", "invalid_request_error")
            return
        entry["body"] = body
        entry["stream"] = bool(body.get("stream"))
        if self.api == "responses":
            body = _chat_view(body)
        script = owner.script
        if script.require_api_key is not None and \
                self.headers.get("Authorization") != f"Bearer {script.require_api_key}":
            entry["outcome"] = "unauthorized"
            owner._log(entry)
            self._error(401, "Incorrect API key provided (scripted server).", "invalid_request_error",
                        "invalid_api_key")
            return
        refused = self._refused_feature(body, script.refuse)
        if refused is not None:
            entry["outcome"] = f"refused:{refused}"
            owner._log(entry)
            self._error(400, f"this server does not support `{refused}` (scripted refusal)",
                        "invalid_request_error", "unsupported_parameter")
            return
        fmt = _response_format(body)
        view = RequestView(model=str(body.get("model", "")), text=_message_text(body), kind=entry["kind"],
                           operator=entry["operator"], node=entry["node"],
                           wants_review=bool(body.get("tools")) or fmt in ("json_schema", "json_object"))
        decision = script.decide(view)
        entry["rule"] = decision.rule
        entry["outcome"] = (f"fault:{decision.fault.kind}" if decision.fault else
                            "answer" if decision.answer else "no-rule")
        owner._log(entry)
        if decision.latency and (decision.fault is None or decision.fault.kind != "hang"):
            owner._wait(decision.latency)
        self._play(decision, body, view)

    @staticmethod
    def _refused_feature(body: Mapping[str, Any], refuse: frozenset[str]) -> str | None:
        fmt = _response_format(body)
        if "tools" in refuse and body.get("tools"):
            return "tools"
        if fmt in ("json_schema", "json_object") and fmt in refuse:
            return fmt
        if "stream" in refuse and body.get("stream"):
            return "stream"
        return None

    def _play(self, decision: Decision, body: Mapping[str, Any], view: RequestView) -> None:
        model = view.model
        if decision.fault is not None:
            self._fault(decision.fault, body, model, decision.answer)
        elif decision.answer is not None:
            self._reply(_reply_for(decision.answer, body), body, model)
        else:
            self._error(404, f"scripted server: no rule of the script matches this request "
                             f"(kind={view.kind or (view.wants_review and 'analyze') or '-'}, "
                             f"operator={view.operator or '-'}, model={model})",
                        "not_found_error", "no_scripted_answer")

    def _fault(self, fault: Fault, body: Mapping[str, Any], model: str, answer: Answer | None) -> None:
        kind = fault.kind
        if kind in DECORATING_FAULTS:
            reply = (_reply_for(answer, body) if answer is not None
                     else _Reply("fine", prompt_text=_message_text(body)))
            self._reply(reply, body, model, twist=fault)
        elif kind in ("rate_limit", "unavailable"):
            headers = {}
            if fault.header is not None:
                headers = {"Retry-After": fault.header}
            elif fault.retry_after is not None or kind == "rate_limit":
                wait = 1.0 if fault.retry_after is None else fault.retry_after
                headers = {"Retry-After": f"{wait:g}", "retry-after-ms": str(int(wait * 1000))}
            status = 429 if kind == "rate_limit" else 503
            self._error(status, fault.message or ("Rate limit reached (scripted)." if status == 429 else
                                                  "The server is overloaded (scripted)."),
                        "rate_limit_error" if status == 429 else "server_error", None, headers)
        elif kind == "server_error":
            self._error(500, fault.message or "Internal server error (scripted).", "server_error")
        elif kind == "http_error":
            self._error(fault.status or 400, fault.message or f"scripted HTTP {fault.status or 400}",
                        "invalid_request_error")
        elif kind == "context_length":
            self._error(400, fault.message or "This model's maximum context length is 4096 tokens. However, "
                        "your messages resulted in 9000 tokens. Please reduce the length of the messages.",
                        "invalid_request_error", "context_length_exceeded")
        elif kind == "hang":
            self.owner._wait(fault.seconds)
            self.close_connection = True
        elif kind == "truncated_json":
            half = _Reply("print('half an answer')")
            full = (self.owner._response(half, model) if self.api == "responses"
                    else self.owner._completion(half, model))
            whole = json.dumps(full).encode()
            if body.get("stream"):
                self._stream_raw([b"data: " + whole[: len(whole) // 2] + b"\n\n"])
            else:
                self._send_bytes(200, whole[: len(whole) // 2])
        elif kind == "empty_choices" and self.api == "responses":
            empty = {**self.owner._response(_Reply(""), model), "output": []}
            self._send_response(empty, bool(body.get("stream")))
        elif kind == "empty_choices":
            payload = {"id": "chatcmpl-empty", "object": "chat.completion", "created": int(time.time()),
                       "model": model, "choices": [], "usage": _Reply("").usage()}
            if body.get("stream"):
                self._stream_raw([b"data: " + json.dumps({**payload, "object": "chat.completion.chunk"}).encode()
                                  + b"\n\n", b"data: [DONE]\n\n"])
            else:
                self._send_json(200, payload)
        elif kind == "no_code":
            self._reply(_Reply(_PROSE_ONLY, prompt_text=_message_text(body)), body, model)
        elif kind == "bad_review_args":
            self._reply(_malformed_review(body), body, model)
        elif self.api == "responses":  # the hostile-endpoint faults, Responses API bodies
            response = self.owner._response(_Reply("fine", prompt_text=_message_text(body)), model)
            twisted = broken_responses_body(fault, response)
            if twisted is not None:
                self._send_response(twisted, bool(body.get("stream")))
            else:
                self._send_raw(broken_response(fault, stream=bool(body.get("stream")), completion=response))
        else:  # the hostile-endpoint faults (aira_dsl.llm.hostile)
            completion = self.owner._completion(_Reply("fine", prompt_text=_message_text(body)), model)
            self._send_raw(broken_response(fault, stream=bool(body.get("stream")), completion=completion))

    def _reply(self, reply: _Reply, body: Mapping[str, Any], model: str, twist: Fault | None = None) -> None:
        """Send ``reply`` (plain or streamed); ``twist`` is a decorating fault to apply on the way."""
        kind = twist.kind if twist is not None else None
        if twist is not None and kind in ("lone_surrogates", "nul_bytes", "huge_answer"):
            _twist_text(reply, twist)
        usage: Any = dict(twist.usage or {}) if twist is not None and kind == "bad_usage" else reply.usage()
        drip = ((twist.seconds if twist.seconds is not None else SLOW_DRIP_SECONDS)
                if twist is not None and kind == "slow_drip" else None)
        if self.api == "responses":
            response = self.owner._response(reply, model, list_content=kind == "list_content")
            if "usage" in response and kind == "bad_usage":
                response["usage"] = usage
            self._send_response(response, bool(body.get("stream")), drip=drip,
                                size=65536 if kind == "huge_answer" else 24)
            return
        if not body.get("stream"):
            completion = self.owner._completion(reply, model)
            if "usage" in completion:
                completion["usage"] = usage
            if kind == "list_content":
                completion = as_list_content(completion)
            if drip is None:
                self._send_json(200, completion)
            else:
                self._send_raw(RawResponse(body=json.dumps(completion).encode(), drip=drip))
            return
        ident = f"chatcmpl-scripted-{next(self.owner._ids)}"
        base = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        size = 65536 if kind == "huge_answer" else 24

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            if kind == "list_content" and isinstance(delta.get("content"), str):
                delta = {**delta, "content": [{"type": "text", "text": delta["content"]}]}
            payload = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"reasoning_content": piece}) for piece in _pieces(reply.reasoning, size)]
        events += [chunk({"content": piece}) for piece in _pieces(reply.content, size)]
        if reply.tool:
            events.append(chunk({"tool_calls": [{"index": 0, "id": f"call_{next(self.owner._ids)}",
                                                 "type": "function",
                                                 "function": {"name": reply.tool, "arguments": ""}}]}))
            events += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                       for piece in _pieces(reply.arguments or "", size)]
        events.append(chunk({}, reply.finish_reason))
        options = body.get("stream_options")
        if isinstance(options, Mapping) and options.get("include_usage") and self.owner.script.report_usage:
            events.append(b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode() + b"\n\n")
        events.append(b"data: [DONE]\n\n")
        if drip is not None:
            self._send_raw(RawResponse(content_type="text/event-stream", body=b"".join(events), drip=drip))
        else:
            self._stream_raw(events)

    def _send_response(self, response: dict[str, Any], stream: bool, *, drip: float | None = None,
                       size: int = 24) -> None:
        """Send a Responses API body, or (``stream``) its events: created, text deltas, then the final
        event (completed, incomplete) carrying the whole body, as OpenAI's server does."""
        if not stream:
            if drip is None:
                self._send_json(200, response)
            else:
                self._send_raw(RawResponse(body=json.dumps(response).encode(), drip=drip))
            return

        def event(payload: dict[str, Any]) -> bytes:
            return f"event: {payload['type']}\n".encode() + b"data: " + json.dumps(payload).encode() + b"\n\n"

        final = "response.incomplete" if response.get("status") == "incomplete" else "response.completed"
        events = [event({"type": "response.created", "sequence_number": 0,
                         "response": {**response, "status": "in_progress", "output": [], "usage": None}})]
        for index, item in enumerate(response.get("output") or []):
            if not isinstance(item, Mapping) or item.get("type") != "message":
                continue
            for part in item.get("content") or []:
                text = part.get("text") if isinstance(part, Mapping) else None
                events += [event({"type": "response.output_text.delta", "sequence_number": len(events),
                                  "item_id": item.get("id"), "output_index": index, "content_index": 0,
                                  "delta": piece}) for piece in _pieces(str(text or ""), size)]
        events.append(event({"type": final, "sequence_number": len(events), "response": response}))
        if drip is not None:
            self._send_raw(RawResponse(content_type="text/event-stream", body=b"".join(events), drip=drip))
        else:
            self._stream_raw(events)

    def _send_raw(self, response: RawResponse) -> None:
        """Write a (possibly broken) response as given, then close the connection."""
        self.close_connection = True
        if response.nothing:
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        length = len(response.body) if response.length == -1 else response.length
        if length is not None and not response.raw_body:
            self.send_header("Content-Length", str(length))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()
        data = response.body if response.cut is None else response.body[: response.cut]
        try:
            if response.drip is None:
                self.wfile.write(data)
                self.wfile.flush()
                return
            for index in range(len(data)):
                if self.owner._stop.is_set():
                    return
                self.wfile.write(data[index: index + 1])
                self.wfile.flush()
                self.owner._wait(response.drip)
        except OSError:  # the client gave up (a deadline cut the drip): nothing more to send
            return

    def _stream_raw(self, events: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for event in events:
            self.wfile.write(event)
            self.wfile.flush()
