"""Kafka security settings: from `CRM_KAFKA_*` to every client library's own words.

The clients are constructed for real (kafka-python's producer and consumer with a pinned
`api_version` do not connect in their constructor), and their config is read back.
"""

from __future__ import annotations

import ast
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.config import Settings, load_settings_checked
from ops.errors import SettingError
from streams import kafka_clients
from streams.kafka_clients import (
    KafkaConfigError,
    KafkaSecurity,
    faust_credentials,
    kafka_python_kwargs,
    librdkafka_config,
)

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "127.0.0.1:1"  # never contacted: the constructors below do not connect


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("CRM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def cafile(tmp_path: Path) -> Path:
    """A self-signed CA certificate (PEM), as a managed cluster hands out."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crm test CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def managed(monkeypatch: pytest.MonkeyPatch, cafile: Path) -> Settings:
    """Settings as an operator of a managed SCRAM cluster sets them, by environment."""
    monkeypatch.setenv("CRM_KAFKA_BOOTSTRAP", "broker-1.example:9096")
    monkeypatch.setenv("CRM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CRM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("CRM_KAFKA_SASL_USERNAME", "crm")
    monkeypatch.setenv("CRM_KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("CRM_KAFKA_SSL_CAFILE", str(cafile))
    return load_settings_checked()


def loaded_ca(context: object) -> list[str]:
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    return [str(cert["subject"]) for cert in context.get_ca_certs()]


def test_the_default_is_plaintext_for_every_library() -> None:
    security = Settings().kafka_security
    assert kafka_python_kwargs(security) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(security) is None
    assert librdkafka_config(security) == {"security.protocol": "plaintext"}


def test_sasl_ssl_settings_reach_kafka_python_clients(
    monkeypatch: pytest.MonkeyPatch, cafile: Path
) -> None:
    security = managed(monkeypatch, cafile).kafka_security
    pinned = {"api_version": (2, 8, 0)}
    made = [
        kafka_clients.producer(NOWHERE, security, **pinned),
        kafka_clients.consumer(NOWHERE, "t", security=security, **pinned),
    ]
    for client in made:
        config = client.config
        assert config["security_protocol"] == "SASL_SSL"
        assert config["sasl_mechanism"] == "SCRAM-SHA-512"
        assert (config["sasl_plain_username"], config["sasl_plain_password"]) == ("crm", "s3cret")
        assert "crm test CA" in str(loaded_ca(config["ssl_context"]))
        client.close()


async def test_sasl_ssl_settings_reach_aiokafka_and_faust(
    monkeypatch: pytest.MonkeyPatch, cafile: Path
) -> None:
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    security = managed(monkeypatch, cafile).kafka_security
    consumer = kafka_clients.aio_consumer(NOWHERE, "t", security=security)
    client = consumer._client
    assert (client._security_protocol, client._sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (client._sasl_plain_username, client._sasl_plain_password) == ("crm", "s3cret")
    assert "crm test CA" in str(loaded_ca(client._ssl_context))
    # faust hands its credentials to every aiokafka client it makes, in these words:
    auth = credentials_to_aiokafka_auth(faust_credentials(security))
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("crm", "s3cret")
    assert "crm test CA" in str(loaded_ca(auth["ssl_context"]))


def test_the_faust_app_of_a_worker_carries_the_credentials(
    monkeypatch: pytest.MonkeyPatch, cafile: Path, tmp_path: Path
) -> None:
    from streams.processor import ProcessorSettings, build_app

    security = managed(monkeypatch, cafile).kafka_security
    settings = ProcessorSettings("projections", NOWHERE, "t", tmp_path, security=security)
    app = build_app(settings, intake=None, report=lambda status, detail: None)  # type: ignore[arg-type]
    credentials = app.conf.broker_credentials
    assert credentials.protocol.value == "SASL_SSL"
    assert (credentials.username, credentials.mechanism.value) == ("crm", "SCRAM-SHA-512")


def test_librdkafka_config_for_the_confluent_producer(
    monkeypatch: pytest.MonkeyPatch, cafile: Path
) -> None:
    security = managed(monkeypatch, cafile).kafka_security
    assert librdkafka_config(security) == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "crm",
        "sasl.password": "s3cret",
        "ssl.ca.location": str(cafile),
        "ssl.endpoint.identification.algorithm": "https",
    }


def test_the_password_never_shows_in_a_repr(monkeypatch: pytest.MonkeyPatch, cafile: Path) -> None:
    settings = managed(monkeypatch, cafile)
    assert "s3cret" not in repr(settings) and "s3cret" not in repr(settings.kafka_security)


@pytest.mark.parametrize(
    ("env", "setting", "code"),
    [
        (
            {"SECURITY_PROTOCOL": "SSL", "SSL_CAFILE": "/nonexistent/ca.pem"},
            "CRM_KAFKA_SSL_CAFILE",
            "KAFKA_SSL_FILE_MISSING",
        ),
        (
            {"SECURITY_PROTOCOL": "SASL_SSL"},
            "CRM_KAFKA_SASL_USERNAME",
            "KAFKA_SASL_CREDENTIALS_MISSING",
        ),
        (
            {"SECURITY_PROTOCOL": "SASL_SSL", "SASL_USERNAME": "crm"},
            "CRM_KAFKA_SASL_PASSWORD",
            "KAFKA_SASL_CREDENTIALS_MISSING",
        ),
        ({"SASL_USERNAME": "crm"}, "CRM_KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_NOT_ENABLED"),
        ({"SSL_CAFILE": "/etc/hostname"}, "CRM_KAFKA_SECURITY_PROTOCOL", "KAFKA_SSL_NOT_ENABLED"),
    ],
)
def test_a_setting_that_cannot_work_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], setting: str, code: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(f"CRM_KAFKA_{name}", value)
    with pytest.raises(SettingError) as caught:
        load_settings_checked()
    assert caught.value.setting == setting and code in str(caught.value)


def test_security_settings_without_a_cluster_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded broker speaks PLAINTEXT: SASL settings without CRM_KAFKA_BOOTSTRAP
    would make every process fail to connect to it."""
    monkeypatch.setenv("CRM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CRM_KAFKA_SASL_USERNAME", "crm")
    monkeypatch.setenv("CRM_KAFKA_SASL_PASSWORD", "s3cret")
    with pytest.raises(SettingError) as caught:
        load_settings_checked()
    assert caught.value.setting == "CRM_KAFKA_BOOTSTRAP"
    assert "KAFKA_SECURITY_WITHOUT_CLUSTER" in str(caught.value)


def test_an_unknown_protocol_or_mechanism_names_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_KAFKA_SECURITY_PROTOCOL", "TLS")
    with pytest.raises(SettingError) as caught:
        load_settings_checked()
    assert caught.value.setting == "CRM_KAFKA_SECURITY_PROTOCOL"
    monkeypatch.setenv("CRM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CRM_KAFKA_SASL_MECHANISM", "GSSAPI")
    with pytest.raises(SettingError) as caught:
        load_settings_checked()
    assert caught.value.setting == "CRM_KAFKA_SASL_MECHANISM"


def test_a_client_is_never_made_with_a_missing_ca_file(tmp_path: Path) -> None:
    security = KafkaSecurity(protocol="SSL", ssl_cafile=tmp_path / "gone.pem")
    for make in (
        lambda: kafka_clients.producer(NOWHERE, security, api_version=(2, 8, 0)),
        lambda: kafka_clients.consumer(NOWHERE, security=security, api_version=(2, 8, 0)),
        lambda: librdkafka_config(security),
        lambda: faust_credentials(security),
    ):
        with pytest.raises(KafkaConfigError) as caught:
            make()
        assert (caught.value.setting, caught.value.code) == (
            "CRM_KAFKA_SSL_CAFILE",
            "KAFKA_SSL_FILE_MISSING",
        )


def test_crm_relay_ends_with_one_line_naming_the_missing_ca_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ops.cli import app

    env = {
        "CRM_DATA_DIR": str(tmp_path),
        "CRM_KAFKA_SECURITY_PROTOCOL": "SSL",
        "CRM_KAFKA_SSL_CAFILE": str(tmp_path / "gone.pem"),
    }
    result = CliRunner().invoke(app, ["relay"], env=env)
    assert result.exit_code == 2
    assert "CRM_KAFKA_SSL_CAFILE" in result.output and "KAFKA_SSL_FILE_MISSING" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_a_call_site_cannot_override_the_clusters_security() -> None:
    with pytest.raises(TypeError):
        kafka_clients.producer(NOWHERE, security_protocol="PLAINTEXT", api_version=(2, 8, 0))


CLIENTS = {
    "KafkaProducer",
    "KafkaConsumer",
    "KafkaAdminClient",
    "AIOKafkaProducer",
    "AIOKafkaConsumer",
    "Producer",  # confluent-kafka's (librdkafka), the relay's
}


def test_no_module_makes_a_kafka_client_but_the_one_that_applies_the_settings() -> None:
    """So a security setting cannot reach some clients and miss others; a faust app gets
    `broker_credentials` (and faust hands them to each client it makes)."""
    packages = [p for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"]
    offenders: list[str] = []
    faust_apps = 0
    for path in sorted(f for package in packages for f in package.rglob("*.py")):
        if path == ROOT / "streams" / "kafka_clients.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name in CLIENTS:
                offenders.append(where)
            if isinstance(func, ast.Attribute) and ast.unparse(func) == "faust.App":
                faust_apps += 1
                if "broker_credentials" not in {k.arg for k in node.keywords}:
                    offenders.append(f"{where} (faust.App without broker_credentials)")
    assert offenders == []
    assert faust_apps >= 1  # the check above looked at the worker's app


def test_every_consumer_library_reads_the_codec_the_relay_writes() -> None:
    """The relay compresses with librdkafka; workers read with aiokafka (faust), tools
    and tests with kafka-python: each needs its own library for anything but gzip."""
    import aiokafka.codec
    import kafka.codec

    from streams.relay_producer import BASE_CONFIG

    codec = BASE_CONFIG["compression.type"]
    for reader in (aiokafka.codec, kafka.codec):
        assert getattr(reader, f"has_{codec}")(), f"{reader.__name__} cannot read {codec}"


def test_the_relay_connects_to_every_broker_when_it_starts() -> None:
    """With librdkafka's sparse connections the idempotent producer looked for a broker to
    give it a producer id before any was connected, and retried on its 500 ms timer: every
    new relay producer (a start, a failover, a recovery from a failed delivery) held its
    first batch ~1 s, 1.0 of the 1.6 s the streams bench's relay took for 49,601 events
    (bench/NOTES.md, "A relay's first second"). The timing is measured there, not here."""
    from streams.relay_producer import BASE_CONFIG

    assert BASE_CONFIG["enable.sparse.connections"] is False
    assert BASE_CONFIG["enable.idempotence"] is True
