"""Every Kafka client of the platform is made here, with the cluster's security settings.

A managed cluster (Confluent Cloud, MSK, Aiven, Redpanda Cloud…) asks for SASL over TLS
and often its own CA; the embedded broker asks for nothing. `KafkaSecurity` is the one
description of that (built from the `CRM_KAFKA_*` settings by `ops.config`), and the
functions below turn it into each library's own words: kafka-python's and aiokafka's
keyword arguments, faust's `broker_credentials`, librdkafka's config dict. Nothing else
in the project constructs a producer, consumer or admin client (a unit test greps for
it), so a setting cannot reach some clients and miss others.

A bad combination is refused before any connection with a `KafkaConfigError` naming the
setting and the rule, e.g. an SSL protocol whose CA file does not exist.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from confluent_kafka import Producer as RdkafkaProducer
    from faust.types.auth import CredentialsT
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
PROTOCOLS: tuple[Protocol, ...] = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS: tuple[Mechanism, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class KafkaConfigError(ValueError):
    """A Kafka security setting that cannot work: `setting` names it, `code` the rule."""

    def __init__(self, setting: str, code: str, message: str) -> None:
        super().__init__(f"{setting}: {message} [{code}]")
        self.setting = setting
        self.code = code
        self.message = message


@dataclass(frozen=True)
class KafkaSecurity:
    """How to authenticate to the cluster and verify it (the embedded broker: PLAINTEXT)."""

    protocol: Protocol = "PLAINTEXT"
    sasl_mechanism: Mechanism | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_ssl(self) -> bool:
        return self.protocol.endswith("SSL")

    @property
    def mechanism(self) -> Mechanism:
        """The SASL mechanism; PLAIN when unset (what most managed clusters take)."""
        return self.sasl_mechanism or "PLAIN"

    def check(self) -> KafkaSecurity:
        """Itself, or a `KafkaConfigError` for the first rule it breaks."""
        if self.protocol not in PROTOCOLS:
            raise KafkaConfigError(
                "CRM_KAFKA_SECURITY_PROTOCOL",
                "KAFKA_PROTOCOL_UNKNOWN",
                f"{self.protocol!r} is not one of {', '.join(PROTOCOLS)}",
            )
        if self.sasl_mechanism is not None and self.sasl_mechanism not in MECHANISMS:
            raise KafkaConfigError(
                "CRM_KAFKA_SASL_MECHANISM",
                "KAFKA_SASL_MECHANISM_UNKNOWN",
                f"{self.sasl_mechanism!r} is not one of {', '.join(MECHANISMS)}",
            )
        self._check_sasl()
        self._check_ssl()
        return self

    def _check_sasl(self) -> None:
        given = self.sasl_mechanism or self.sasl_username or self.sasl_password
        if given and not self.uses_sasl:
            # Credentials that would silently not be sent are a misconfiguration.
            raise KafkaConfigError(
                "CRM_KAFKA_SECURITY_PROTOCOL",
                "KAFKA_SASL_NOT_ENABLED",
                f"SASL settings are given but the protocol is {self.protocol}; "
                "use SASL_SSL (or SASL_PLAINTEXT)",
            )
        if self.uses_sasl:
            for setting, value in (
                ("CRM_KAFKA_SASL_USERNAME", self.sasl_username),
                ("CRM_KAFKA_SASL_PASSWORD", self.sasl_password),
            ):
                if not value:
                    raise KafkaConfigError(
                        setting,
                        "KAFKA_SASL_CREDENTIALS_MISSING",
                        f"required when the protocol is {self.protocol}",
                    )

    def _check_ssl(self) -> None:
        files = (
            ("CRM_KAFKA_SSL_CAFILE", self.ssl_cafile),
            ("CRM_KAFKA_SSL_CERTFILE", self.ssl_certfile),
            ("CRM_KAFKA_SSL_KEYFILE", self.ssl_keyfile),
        )
        for setting, path in files:
            if path is None:
                continue
            if not self.uses_ssl:
                raise KafkaConfigError(
                    "CRM_KAFKA_SECURITY_PROTOCOL",
                    "KAFKA_SSL_NOT_ENABLED",
                    f"{setting} is given but the protocol is {self.protocol}; use SSL or SASL_SSL",
                )
            if not path.is_file():
                raise KafkaConfigError(
                    setting, "KAFKA_SSL_FILE_MISSING", f"no readable file at {path}"
                )
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise KafkaConfigError(
                "CRM_KAFKA_SSL_CERTFILE",
                "KAFKA_SSL_KEY_WITHOUT_CERT",
                "a client key needs its certificate",
            )

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context both Python clients use (system CAs unless a CA file is set)."""
        if not self.uses_ssl:
            return None
        self.check()
        context = ssl.create_default_context(
            cafile=str(self.ssl_cafile) if self.ssl_cafile else None
        )
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile is not None:
            context.load_cert_chain(
                str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None
            )
        return context


PLAINTEXT = KafkaSecurity()


def kafka_python_kwargs(security: KafkaSecurity) -> dict[str, Any]:
    """kafka-python's keyword arguments (the same names for producer, consumer, admin)."""
    security.check()
    kwargs: dict[str, Any] = {"security_protocol": security.protocol}
    if security.uses_sasl:
        kwargs |= {
            "sasl_mechanism": security.mechanism,
            "sasl_plain_username": security.sasl_username,
            "sasl_plain_password": security.sasl_password,
        }
    if security.uses_ssl:
        kwargs["ssl_context"] = security.ssl_context()
    return kwargs


def aiokafka_kwargs(security: KafkaSecurity) -> dict[str, Any]:
    """aiokafka's keyword arguments (the names match kafka-python's for these settings)."""
    return kafka_python_kwargs(security)


def faust_credentials(security: KafkaSecurity) -> CredentialsT | None:
    """faust's `broker_credentials` (it hands them to aiokafka for every client it makes)."""
    from faust.auth import SASLCredentials, SSLCredentials

    security.check()
    if security.uses_sasl:
        return SASLCredentials(
            username=security.sasl_username,
            password=security.sasl_password,
            mechanism=security.mechanism,
            ssl_context=security.ssl_context(),  # None: SASL_PLAINTEXT
        )
    context = security.ssl_context()
    return SSLCredentials(context) if context is not None else None


def librdkafka_config(security: KafkaSecurity) -> dict[str, str]:
    """librdkafka's properties (confluent-kafka's `Producer({...})`), dotted names."""
    security.check()
    config = {"security.protocol": security.protocol.lower()}
    if security.uses_sasl:
        config |= {
            "sasl.mechanisms": security.mechanism,
            "sasl.username": str(security.sasl_username),
            "sasl.password": str(security.sasl_password),
        }
    if security.uses_ssl:
        optional = {
            "ssl.ca.location": security.ssl_cafile,
            "ssl.certificate.location": security.ssl_certfile,
            "ssl.key.location": security.ssl_keyfile,
        }
        config |= {key: str(path) for key, path in optional.items() if path is not None}
        config["ssl.endpoint.identification.algorithm"] = (
            "https" if security.ssl_check_hostname else "none"
        )
    return config


# -- the clients ----------------------------------------------------------------------------


def admin_client(
    bootstrap: str, security: KafkaSecurity = PLAINTEXT, **kwargs: Any
) -> KafkaAdminClient:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap, **_merged(security, kwargs))


def producer(bootstrap: str, security: KafkaSecurity = PLAINTEXT, **kwargs: Any) -> KafkaProducer:
    from kafka import KafkaProducer

    return KafkaProducer(bootstrap_servers=bootstrap, **_merged(security, kwargs))


def rdkafka_producer(
    bootstrap: str, security: KafkaSecurity = PLAINTEXT, config: Mapping[str, Any] | None = None
) -> RdkafkaProducer:
    """librdkafka's producer (the relay's hot path); `config` in librdkafka's dotted names."""
    from confluent_kafka import Producer

    return Producer(
        {**(config or {}), **librdkafka_config(security), "bootstrap.servers": bootstrap}
    )


def consumer(
    bootstrap: str, *topics: str, security: KafkaSecurity = PLAINTEXT, **kwargs: Any
) -> KafkaConsumer:
    from kafka import KafkaConsumer

    return KafkaConsumer(*topics, bootstrap_servers=bootstrap, **_merged(security, kwargs))


def aio_consumer(
    bootstrap: str, *topics: str, security: KafkaSecurity = PLAINTEXT, **kwargs: Any
) -> AIOKafkaConsumer:
    """Made inside the running event loop (aiokafka binds to it)."""
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, **_merged(security, kwargs))


def aio_producer(
    bootstrap: str, security: KafkaSecurity = PLAINTEXT, **kwargs: Any
) -> AIOKafkaProducer:
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(bootstrap_servers=bootstrap, **_merged(security, kwargs))


def _merged(security: KafkaSecurity, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    clash = sorted(set(kwargs) & {"security_protocol", "ssl_context", "sasl_mechanism"})
    if clash:  # a call site must not override the cluster's security by accident
        raise TypeError(f"security settings come from KafkaSecurity, not {clash}")
    return {**kafka_python_kwargs(security), **kwargs}
