"""How a process proves who it is to a secured broker: nothing on the local plaintext
loopback; TLS and SCRAM-SHA-512 as its own user elsewhere, for FastStream's broker and for
aiokafka's own clients alike; a secured broker without a user refused at start."""

from __future__ import annotations

import ssl

import pytest
from pydantic import ValidationError

from shared.kafka import client_options, kafka_security, records_compiled
from shared.settings import ServiceSettings

SECURED = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_USERNAME": "router",
    "KAFKA_SASL_PASSWORD": "s3cret",
}


def test_the_local_loopback_stays_plaintext() -> None:
    settings = ServiceSettings.model_validate({})
    assert kafka_security(settings) is None
    assert client_options(None) == {}


def test_a_secured_broker_is_reached_over_tls_as_the_services_own_user() -> None:
    options = client_options(kafka_security(ServiceSettings.model_validate(SECURED)))
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("router", "s3cret")
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


@pytest.mark.parametrize("missing", ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"])
def test_a_secured_broker_without_a_user_is_refused_at_start(missing: str) -> None:
    given = {k: v for k, v in SECURED.items() if k != missing}
    with pytest.raises(ValidationError, match="needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        ServiceSettings.model_validate(given)


def test_aiokafka_reads_and_writes_records_with_its_c_extension() -> None:
    assert records_compiled()
