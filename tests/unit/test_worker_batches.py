"""How each worker batches: the read models apply what queued at once, analytics waits."""

from pathlib import Path

from streams.relay_main import StreamConfig
from streams.worker_main import processor_settings

CONFIG = StreamConfig("postgresql://db/crm", "broker:9092", "crm.events", Path("/data"))


def test_the_projections_worker_does_not_hold_a_batch_open() -> None:
    # Reads wait on the read models (`atLeast`, the lag): a 50 ms window after every
    # batch was a fixed share of each event's lag at 1,000 events/s.
    settings = processor_settings("projections", CONFIG, "crm.events")
    assert settings.batch_within == 0.005


def test_analytics_keeps_its_window_for_fewer_larger_parts() -> None:
    # Each analytics batch is a Parquet part, fsynced: a longer window means fewer files.
    settings = processor_settings("analytics", CONFIG, "crm.events")
    assert settings.batch_within == 0.05


def test_the_settings_name_the_group_of_the_generation_and_segment() -> None:
    settings = processor_settings("projections", CONFIG, "crm.events.s2", 3, "s2")
    assert (settings.topic, settings.generation, settings.segment) == ("crm.events.s2", 3, "s2")
    assert settings.group == processor_settings("projections", CONFIG, "x", 3, "s2").group
    assert settings.group != processor_settings("projections", CONFIG, "x", 4, "s2").group
