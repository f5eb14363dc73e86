"""A consumer group's progress as the broker reports it (`streams.group_offsets`), on the
embedded broker: what the stall watch and the widening's log watch decide from."""

from __future__ import annotations

import pytest
from kafka import OffsetAndMetadata, TopicPartition

from streams.group_offsets import GroupReader, group_offsets
from streams.kafka_clients import PLAINTEXT, consumer, producer
from streams.topic import ensure_topic

pytestmark = pytest.mark.integration


def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    member = consumer(bootstrap, group_id=group, enable_auto_commit=False)
    try:
        member.commit(
            {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()}
        )
    finally:
        member.close()


def test_one_reader_follows_a_groups_commits_and_the_topics_ends(
    kafka_bootstrap: str, kafka_topic: str
) -> None:
    ensure_topic(kafka_bootstrap, kafka_topic, 2)
    sending = producer(kafka_bootstrap)
    for n in range(5):  # 3 on partition 0, 2 on 1; a batch each: Tansu 0.6 reports a
        sending.send(kafka_topic, value=b"x", partition=n % 2)  # partition's end as its
        sending.flush()  # last batch's base offset + 1 (`streams.topic.exact_ends`)
    sending.close()
    group = f"{kafka_topic}-readers"
    reader = GroupReader(kafka_bootstrap, group, PLAINTEXT)
    try:
        # Nothing committed yet: None, not 0 (the stall watch counts from its first look).
        assert reader.read(kafka_topic, [0, 1], with_ends=True) == (
            {0: None, 1: None},
            {0: 3, 1: 2},
        )
        commit(kafka_bootstrap, group, kafka_topic, {0: 2})
        assert reader.read(kafka_topic, [0, 1], with_ends=True) == ({0: 2, 1: None}, {0: 3, 1: 2})
        commit(kafka_bootstrap, group, kafka_topic, {0: 3, 1: 2})
        # The same client, read again: the newest commits, not what it saw before.
        assert reader.read(kafka_topic, [0, 1]) == ({0: 3, 1: 2}, {})
    finally:
        reader.close()
    # The one-off form (the log watch's) agrees, and another group's offsets are its own.
    assert group_offsets(kafka_bootstrap, group, kafka_topic, [1], PLAINTEXT) == ({1: 2}, {})
    other = group_offsets(kafka_bootstrap, f"{group}-other", kafka_topic, [0, 1], PLAINTEXT)
    assert other == ({0: None, 1: None}, {})
