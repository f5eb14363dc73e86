"""Topic administration the streams need (works on Tansu and on any Kafka).

The one `ensure_topic`: the relay, `crm up` (`ops.stack`), benchmarks and tests call it.
"""

from __future__ import annotations

import contextlib

from streams.kafka_clients import PLAINTEXT, KafkaSecurity, admin_client


def ensure_topic(
    bootstrap: str, topic: str, partitions: int, security: KafkaSecurity = PLAINTEXT
) -> None:
    """Create the topic if it is missing (idempotent; a no-op on a live cluster)."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = admin_client(bootstrap, security, client_id="crm-admin")
    try:
        if topic in admin.list_topics():
            return
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
