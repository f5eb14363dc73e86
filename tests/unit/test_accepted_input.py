"""The accepted input ranges (docs/architecture.md "Accepted input"), token lifetime caps
and the supervisor's private, rotated log files: pure code, no servers."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import jwt
import pytest

from aggregates.errors import ValidationFailed
from aggregates.validation import (
    check_occurred_at,
    normalize_name,
    normalize_tags,
    normalize_text,
    require_aware,
)
from gateway.auth import Unauthenticated, mint_token, verify_token
from ops.errors import SettingError
from ops.logfiles import open_log, rotate_if_large
from ops.tokens import parse_ttl

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SECRET = "s" * 40


@pytest.mark.parametrize(
    "at",
    [
        datetime(1999, 12, 31, 23, 59, tzinfo=UTC),
        NOW + timedelta(days=1, seconds=1),
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_business_time_out_of_range_is_refused(at: datetime) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_occurred_at(at, NOW)
    assert refused.value.field == "occurredAt" and "2000-01-01" in refused.value.message


def test_business_time_in_range_is_kept_in_utc() -> None:
    assert check_occurred_at(datetime(2000, 1, 1, tzinfo=UTC), NOW).year == 2000
    assert check_occurred_at(NOW + timedelta(hours=23), NOW) == NOW + timedelta(hours=23)


def test_year_one_with_an_offset_is_a_validation_error_not_an_overflow() -> None:
    shifted = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=8)))
    with pytest.raises(ValidationFailed) as refused:
        require_aware(shifted)
    assert refused.value.field == "occurredAt"


@pytest.mark.parametrize(
    "char", ["\u202a", "\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff", "\x07", "\x85"]
)
def test_invisible_characters_are_refused_in_names_and_free_text(char: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        normalize_name(f"Ann{char}Lee")
    assert refused.value.field == "name" and f"U+{ord(char):04X}" in refused.value.message
    with pytest.raises(ValidationFailed):
        normalize_text(f"late{char}delivery", field="description", max_length=100)


def test_free_text_keeps_newlines_and_tabs_but_names_do_not() -> None:
    assert normalize_text("line one\n\tline two", field="summary", max_length=100)
    with pytest.raises(ValidationFailed) as refused:
        normalize_name("Ann\nLee")
    assert refused.value.field == "name"
    assert normalize_name("李 Ann-Lee O'Neil") == "李 Ann-Lee O'Neil"


def test_a_tag_count_over_the_bound_is_refused_before_any_tag_is_read() -> None:
    tags = [object()] * 100_000  # not even strings: the count is checked first
    with pytest.raises(ValidationFailed) as refused:
        normalize_tags(tags, most=50)  # type: ignore[arg-type]
    assert refused.value.field == "tags" and "50" in refused.value.message
    assert normalize_tags(["B", "a", "b"], most=50) == ["b", "a"]


def test_token_lifetimes_are_capped() -> None:
    now = datetime.now(UTC)  # PyJWT checks expiry against the real clock
    ok = mint_token(SECRET, subject="ann", role="admin", ttl=timedelta(days=30), now=now)
    assert verify_token(ok, SECRET, now=now).subject == "ann"
    for exp in (10**12, int((now + timedelta(days=31)).timestamp())):
        token = jwt.encode({"sub": "ann", "role": "admin", "exp": exp}, SECRET, "HS256")
        with pytest.raises(Unauthenticated, match="capped at 30 days"):
            verify_token(token, SECRET, now=now)
    with pytest.raises(Unauthenticated, match="capped at 3600 seconds"):
        verify_token(ok, SECRET, now=now, max_lifetime=timedelta(hours=1))


def test_crm_token_ttl_over_the_cap_is_a_one_line_setting_error() -> None:
    assert parse_ttl("30d") == timedelta(days=30)
    for text in ("3000000d", "31d", "99999999999999999999"):
        with pytest.raises(SettingError) as refused:
            parse_ttl(text)
        assert "--ttl" in str(refused.value)
    assert parse_ttl("60d", most=timedelta(days=90)) == timedelta(days=60)


def test_child_logs_are_private_and_rotated_by_size(tmp_path: Path) -> None:
    path = tmp_path / "gateway.log"
    path.write_bytes(b"old\n")
    path.chmod(0o644)  # a log left by an older version
    with open_log(path) as log:
        log.write(b"x" * 100)
        log.flush()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not rotate_if_large(path, max_bytes=1000, keep=2)
        for round_ in range(3):
            assert rotate_if_large(path, max_bytes=10, keep=2)
            assert path.stat().st_size == 0
            log.write(f"round {round_} ".encode() * 5)
            log.flush()
    assert path.read_bytes().startswith(b"round 2")  # O_APPEND: writes follow the truncation
    assert (tmp_path / "gateway.log.1").read_bytes().startswith(b"round 1")
    assert (tmp_path / "gateway.log.2").read_bytes().startswith(b"round 0")
    assert not (tmp_path / "gateway.log.3").exists()
    assert stat.S_IMODE((tmp_path / "gateway.log.1").stat().st_mode) == 0o600


def test_crm_token_with_a_huge_ttl_prints_one_line_not_a_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ops.cli import app

    env = {"CRM_DATA_DIR": str(tmp_path), "CRM_JWT_SECRET": SECRET}
    args = ["token", "--role", "admin", "--subject", "ann", "--ttl", "3000000d"]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code != 0 and not isinstance(result.exception, OverflowError)
    assert "Traceback" not in result.output and "--ttl" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
