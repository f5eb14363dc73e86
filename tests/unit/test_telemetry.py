"""Which exporters the standard OTEL_* variables ask for, and the bound on operation labels."""

from __future__ import annotations

import pytest

from gateway import observe
from ops.telemetry import exporter_names


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, []),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, []),
    ],
)
def test_exporters_follow_the_standard_variables(
    environ: dict[str, str], expected: list[str]
) -> None:
    assert exporter_names(environ) == expected


def test_an_unknown_exporter_is_named() -> None:
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER: unknown exporter 'jaeger'"):
        exporter_names({"OTEL_TRACES_EXPORTER": "jaeger"})


def test_operation_labels_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observe, "_named", set())
    monkeypatch.setattr(observe, "MAX_OPERATIONS", 2)
    assert observe.operation_label(None) == "anonymous"
    assert observe.operation_label("Customers") == "Customers"
    assert observe.operation_label("bad name; drop") == "other"
    assert observe.operation_label("Profile") == "Profile"
    assert observe.operation_label("Third") == "other"  # the cap: no unbounded label set
    assert observe.operation_label("Customers") == "Customers"
