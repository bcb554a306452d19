"""ErrorHandler.sanitize_error_message removes paths and secrets, keeps the rest."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conduit.framework.sanitize import ErrorHandler, safe_error_detail, sanitize_error_message


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Error loading /home/alice/models/bert.onnx: No such file", "Error loading <path>: No such file"),
        ('File "/usr/lib/python3.11/site-packages/x/y.py", line 12', 'File "<path>", line 12'),
        ("cannot open C:\\Users\\bob\\model.pkl (denied)", "cannot open <path> (denied)"),
        ("read ~/secrets/key.pem failed", "read <path> failed"),
        ("failed at /model.onnx", "failed at <path>"),
        ("connect redis://default:hunter2@cache:6379/0 refused", "connect redis://<redacted>@cache:6379/0 refused"),
        ("Authorization: Bearer abcdef0123456789abcdef", "Authorization: Bearer <redacted>"),
        ("api_key=sk-ABCDEF0123456789abcdef failed", "api_key=<redacted> failed"),
        ('{"password": "p@ss w0rd", "user": "x"}', '{"password": "<redacted>", "user": "x"}'),
        ("key AKIAIOSFODNN7EXAMPLE leaked", "key <redacted> leaked"),
        ("got sk-proj-abcdefghijklmnop1234 back", "got <redacted> back"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.sflKxwRJSMeKKF2QT4fw", "token <redacted>"),
        ("sha 9f86d081884c7d659a2fea0a08d5b2b4e3b0c44298fc1c149afbf4c8996fb924 bad", "sha <redacted> bad"),
    ],
)
def test_paths_and_secrets_are_replaced(message: str, expected: str) -> None:
    assert ErrorHandler().sanitize_error_message(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        "expected 768 features, got 512",
        "timeout after 5.0s talking to 10.0.0.3:8080",
        "token expired",
        "ratio 3/4 is too low",
        "see http://example.com/docs for help",
    ],
)
def test_harmless_messages_are_kept(message: str) -> None:
    assert sanitize_error_message(message) == message


@given(
    st.sampled_from(["/home", "/usr/lib", "/srv/app", "/var/tmp", "/opt"]),
    st.lists(st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True).filter(lambda s: s not in (".", "..")),
             min_size=1, max_size=4),
)
def test_no_absolute_path_survives(root: str, parts: list[str]) -> None:
    path = "/".join([root, *parts])
    assert root not in sanitize_error_message(f"failed to read {path} today")


def test_extra_patterns_and_safe_detail() -> None:
    handler = ErrorHandler(extra_patterns=[(r"tenant-\d+", "<tenant>")])
    assert handler.sanitize_error_message("tenant-42 over quota") == "<tenant> over quota"
    assert safe_error_detail(FileNotFoundError("/etc/conduit/keys.toml")) == "FileNotFoundError: <path>"
