"""Head+tail output capture: bounded memory, exact head and tail, an honest marker."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aira_dsl.sandbox.output import HeadTail, OutputCapture, decode


def test_short_output_is_kept_whole() -> None:
    buffer = HeadTail(100)
    buffer.write(b"hello ")
    buffer.write(b"world")
    assert buffer.text() == "hello world" and not buffer.truncated and buffer.total == 11


def test_long_output_keeps_head_and_tail_with_marker() -> None:
    buffer = HeadTail(10)
    for i in range(1000):
        buffer.write(str(i % 10).encode() * 7)
    text = buffer.text()
    assert text[:5] == "00000"
    assert text.endswith("99999")
    assert f"{7000 - 10:,} bytes of output omitted" in text
    assert buffer.dropped == 6990


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=40), st.integers(min_value=2, max_value=200))
def test_head_and_tail_match_the_stream(chunks: list[bytes], limit: int) -> None:
    buffer = HeadTail(limit)
    for chunk in chunks:
        buffer.write(chunk)
    stream = b"".join(chunks)
    head = limit // 2
    tail = limit - head
    assert buffer.total == len(stream)
    assert bytes(buffer.head) == stream[:head]
    if len(stream) <= limit:
        assert not buffer.truncated
        assert buffer.text() == decode(stream)
    else:
        assert bytes(buffer.tail[-tail:]) == stream[-tail:]
        assert buffer.dropped == len(stream) - limit
    assert len(buffer.tail) <= 2 * tail + 300  # memory stays bounded by the limit


def test_capture_keeps_streams_apart_and_interleaved() -> None:
    capture = OutputCapture(1000)
    capture.feed("stdout", b"a\n")
    capture.feed("stderr", b"b\n")
    capture.feed("stdout", b"c\n")
    assert capture.stdout.text() == "a\nc\n"
    assert capture.stderr.text() == "b\n"
    assert capture.combined.text() == "a\nb\nc\n"
    assert capture.total == 6 and not capture.truncated


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode(b"ok \xff\xfe \xc3") == "ok \ufffd\ufffd \ufffd"
