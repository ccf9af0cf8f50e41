"""Notification routing, parameter merging, bracket encoding, "stop" answers and suppression."""

from __future__ import annotations

from typing import Any

from rhoconnect_client.exceptions import ConnectionFailed, HTTPStatusError, NotAuthorized
from rhoconnect_client.notify import Notifier, encode_form, error_fields, merge_params


def make() -> tuple[Notifier, list[tuple[str, list[tuple[str, str]]]]]:
    posted: list[tuple[str, list[tuple[str, str]]]] = []

    def post(url: str, fields: Any) -> str:
        posted.append((url, list(fields)))
        return "stop" if "stop" in url else ""

    return Notifier(post), posted


def test_encode_form_bracket_notation() -> None:
    params = {
        "status": "error",
        "error_code": 8,
        "ok": True,
        "none": None,
        "server_errors": {"create-error": {"17": {"message": "dup", "attributes": {"name": "Pen"}}}},
        "created": [{"object": "1", "source_id": 2}, {"object": "3", "source_id": 2}],
    }
    assert encode_form(params) == [
        ("status", "error"),
        ("error_code", "8"),
        ("ok", "true"),
        ("none", ""),
        ("server_errors[create-error][17][message]", "dup"),
        ("server_errors[create-error][17][attributes][name]", "Pen"),
        ("created[][object]", "1"),
        ("created[][source_id]", "2"),
        ("created[][object]", "3"),
        ("created[][source_id]", "2"),
    ]


def test_merge_params_accepts_mapping_query_string_and_none() -> None:
    assert merge_params(None) == {}
    assert merge_params("&a=1&b=x%20y&c=") == {"a": "1", "b": "x y", "c": ""}
    assert merge_params({"k": 2}) == {"k": 2}


def test_error_fields_per_d4() -> None:
    assert error_fields(NotAuthorized(401, "Not authenticated", "u")) == {
        "error_code": 401,
        "rho_error_code": 9,
        "error_message": "Not authenticated",
    }
    assert error_fields(HTTPStatusError(500, "", "u")) == {
        "error_code": 500,
        "rho_error_code": 2,
        "error_message": "",
    }
    assert error_fields(ConnectionFailed("cannot reach h")) == {
        "error_code": 1,
        "rho_error_code": 1,
        "error_message": "cannot reach h",
    }


def test_routing_one_shot_and_fallback() -> None:
    notifier, _ = make()
    src: list[dict[str, Any]] = []
    glob: list[dict[str, Any]] = []
    notifier.set_notification(2, src.append, {"p": 1})
    notifier.set_notification(-1, glob.append)
    notifier.source_event(2, {"status": "in_progress"})
    notifier.source_event(2, {"status": "error"})
    notifier.source_event(2, {"status": "ok"})
    notifier.source_event(3, {"status": "ok"})
    notifier.global_event({"status": "complete"})
    assert src == [{"status": "in_progress", "p": 1}, {"status": "error", "p": 1}]
    assert glob == [{"status": "ok"}, {"status": "ok"}, {"status": "complete"}]
    assert not notifier.has_notification(2) and notifier.has_notification(-1)


def test_global_only_events_skip_per_source_callbacks() -> None:
    notifier, _ = make()
    src: list[dict[str, Any]] = []
    notifier.set_notification(2, src.append)
    assert notifier.global_event({"status": "complete"}) == {"status": "complete"}
    assert src == []


def test_url_callback_posts_and_stop_clears() -> None:
    notifier, posted = make()
    notifier.set_notification(-1, "http://app/stop", "a=1")
    notifier.source_event(5, {"status": "in_progress", "source_id": 5})
    assert posted == [
        (
            "http://app/stop",
            [("status", "in_progress"), ("source_id", "5"), ("a", "1"), ("rho_callback", "1")],
        )
    ]
    assert not notifier.has_notification(-1)  # the callback answered "stop"


def test_suppressed_delivers_nothing_but_returns_params() -> None:
    notifier, _ = make()
    seen: list[dict[str, Any]] = []
    notifier.set_notification(-1, seen.append, {"x": "y"})
    notifier.suppressed = True
    assert notifier.global_event({"status": "complete"}) == {"status": "complete", "x": "y"}
    assert seen == []


def test_failing_callback_does_not_propagate() -> None:
    notifier, _ = make()

    def boom(params: dict[str, Any]) -> None:
        raise RuntimeError("app bug")

    notifier.set_notification(-1, boom)
    assert notifier.global_event({"status": "complete"})["status"] == "complete"


def test_object_notifications_only_for_watched_objects() -> None:
    notifier, _ = make()
    seen: list[dict[str, Any]] = []
    notifier.set_objectnotify(seen.append)
    assert notifier.objects_event(1, ["t1"], ["5"], ["6"]) is None  # nothing watched
    notifier.add_objectnotify(1, "t1")
    notifier.add_objectnotify(1, "6")
    notifier.objects_event(1, ["t1"], ["5"], ["6"], {"t1": "srv9"})
    assert seen == [
        {
            "deleted": [{"object": "6", "source_id": 1}],
            "updated": [],
            "created": [{"object": "t1", "source_id": 1}],
        }
    ]
    notifier.objects_event(1, [], ["srv9"], [])  # the server id is watched after the link
    assert seen[-1]["updated"] == [{"object": "srv9", "source_id": 1}]
    notifier.clean_objectnotify()
    assert notifier.objects_event(1, [], ["srv9"], []) is None
