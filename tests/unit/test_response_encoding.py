"""The gateway writes its answers with orjson: the same JSON as the standard library's
encoder, and the standard library's where orjson cannot write a value."""

from __future__ import annotations

import json

from gateway.http import GatewayView


def view() -> GatewayView:
    return object.__new__(GatewayView)  # encoding reads nothing of the view's state


def test_an_answer_reads_back_as_the_standard_librarys_and_stays_text() -> None:
    answer = {
        "data": {"customers": {"edges": [{"node": {"name": "张三", "tier": "GOLD"}}]}},
        "errors": [{"message": '引号 " and \\ and \n', "path": ["customers", 0]}],
        "extensions": {"position": 2**62, "ratio": 0.1, "none": None, "ok": True},
    }
    encoded = view().encode_json(answer)
    assert isinstance(encoded, str)  # subscriptions send it as a text frame
    assert json.loads(encoded) == answer
    assert "张三" in encoded  # UTF-8, not \\u escapes


def test_what_orjson_cannot_write_falls_back_to_the_standard_library() -> None:
    answer = {"data": {"big": 2**70}}
    assert json.loads(view().encode_json(answer)) == answer
