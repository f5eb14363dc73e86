"""The cut logic of a widened topic (`streams.topic_cuts`): which topic holds which
positions in each broker generation, and when a consumer group may leave a topic."""

from __future__ import annotations

from collections.abc import Mapping

from streams.generation import group_id
from streams.topic_cuts import (
    Cut,
    Segment,
    current,
    current_partitions,
    first_unread,
    pending,
    read_up_to,
    segments,
    widened_name,
)
from streams.topic_follow import segment_tag
from streams.worker_main import worker_of_group

BASE = "crm.events"
TO_8 = Cut(1, "crm.events.p8", 8, 3, position=120, ends={0: 40, 1: 0, 2: 81}, generation=0)
TO_16 = Cut(2, "crm.events.p16", 16, 3, position=500, ends={p: 30 for p in range(8)}, generation=0)


def test_before_any_cut_the_base_topic_holds_everything() -> None:
    assert current(BASE, []) == BASE
    assert current_partitions([], 4) == (4, 1)
    assert segments(BASE, 0, []) == [Segment(BASE)]


def test_a_requested_cut_moves_nothing_until_the_relay_makes_it() -> None:
    requested = Cut(1, "crm.events.p8", 8)
    assert not requested.done and pending([requested]) == requested
    assert current(BASE, [requested]) == BASE
    assert segments(BASE, 0, [requested]) == [Segment(BASE)]
    assert pending([TO_8]) is None


def test_each_cut_closes_the_topic_before_it_at_its_position() -> None:
    found = segments(BASE, 0, [TO_8, TO_16])
    assert found == [
        Segment(BASE, 0, 120, {0: 40, 1: 0, 2: 81}),
        Segment("crm.events.p8", 120, 500, {p: 30 for p in range(8)}),
        Segment("crm.events.p16", 500),
    ]
    assert [s.closed for s in found] == [True, True, False]
    assert current(BASE, [TO_8, TO_16]) == "crm.events.p16"
    assert current_partitions([TO_8, TO_16], 4) == (16, 3)


def test_after_a_broker_loss_the_new_generation_starts_on_the_newest_topic() -> None:
    # The relay re-publishes everything onto the topic current at the loss.
    assert segments(BASE, 1, [TO_8]) == [Segment("crm.events.p8")]
    later = Cut(2, "crm.events.p16", 16, 1, position=700, ends={0: 9}, generation=1)
    assert segments(BASE, 1, [TO_8, later]) == [
        Segment("crm.events.p8", 0, 700, {0: 9}),
        Segment("crm.events.p16", 700),
    ]


def test_a_group_has_read_a_topic_only_when_every_written_partition_reached_its_end() -> None:
    ends = {0: 40, 1: 0, 2: 81}
    assert read_up_to(ends, {0: 40, 1: None, 2: 81})  # partition 1 was never written
    assert read_up_to(ends, {0: 41, 2: 90})
    assert not read_up_to(ends, {0: 40, 1: None, 2: 80})  # one record short
    assert not read_up_to(ends, {0: None, 2: 81})  # never committed
    assert read_up_to({}, {})


def test_a_worker_starts_on_the_first_topic_its_group_has_not_finished() -> None:
    found = segments(BASE, 0, [TO_8, TO_16])
    committed: dict[str, Mapping[int, int | None]] = {
        BASE: {0: 40, 2: 81},
        "crm.events.p8": {p: 30 for p in range(7)},  # partition 7 not read to the cut
    }

    def committed_on(segment: Segment) -> Mapping[int, int | None]:
        return committed.get(segment.topic, {})

    assert first_unread(found, committed_on) == (1, found[1])
    committed["crm.events.p8"] = {p: 30 for p in range(8)}
    assert first_unread(found, committed_on) == (2, found[2])
    assert first_unread(found, lambda s: {}) == (0, found[0])  # a new group starts at the start


def test_a_new_topic_is_named_by_its_partition_count() -> None:
    assert widened_name(BASE, 8) == "crm.events.p8"


def test_each_topic_of_a_log_has_a_consumer_group_of_its_own() -> None:
    tags = [segment_tag(BASE, s.topic) for s in segments(BASE, 0, [TO_8, TO_16])]
    assert tags == ["", "p8", "p16"]
    groups = [group_id("projections", generation, tag) for generation in (0, 2) for tag in tags]
    assert groups == [
        "crm-projections",
        "crm-projections-p8",
        "crm-projections-p16",
        "crm-projections-g2",
        "crm-projections-g2-p8",
        "crm-projections-g2-p16",
    ]
    # `crm parked retry` finds the worker of every such group, and of no stranger's.
    assert {worker_of_group(group) for group in groups} == {"projections"}
    assert worker_of_group("crm-analytics-g1-p8") == "analytics"
    assert worker_of_group("crm-unknown-p8") is None


def test_an_installation_with_a_group_prefix_has_groups_of_its_own() -> None:
    assert group_id("projections", 2, "p8", prefix="staging") == "staging-projections-g2-p8"
    assert group_id("analytics", 0, prefix="eu-prod") == "eu-prod-analytics"
    assert worker_of_group("staging-projections-g2-p8", "staging") == "projections"
    assert worker_of_group("eu-prod-analytics", "eu-prod") == "analytics"
    # Another installation's groups are no worker's here, and ours none of theirs.
    assert worker_of_group("staging-projections") is None
    assert worker_of_group("crm-projections", "staging") is None
