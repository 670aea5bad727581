"""The TLS listener beside the plain one (R10): smpplib binds over TLS; plaintext on the TLS port goes nowhere."""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import pytest
import smpplib.client

from tests.interop.bridge_harness import PASSWORD, account, running_bridge

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_bind_and_submit_over_tls(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    settings = {"smpp_tls_port": 0, "tls_cert_file": str(cert), "tls_key_file": str(key)}
    with running_bridge([account()], bridge_settings=settings) as bridge:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False  # smpplib wraps without server_hostname; the chain is still verified
        client = smpplib.client.Client(
            "127.0.0.1",
            bridge.bridge.ports["smpp_tls"],
            timeout=5,
            ssl_context=context,
            allow_unknown_opt_params=True,
        )
        client.connect()
        client.bind_transceiver(system_id="partner1", password=PASSWORD)
        client.send_message(source_addr="BILLING", destination_addr="447700900123", short_message=b"over TLS")
        assert client.read_pdu().status == 0
        assert bridge.sink.sent[0].short_message_hex == b"over TLS".hex()
        client.unbind()
        client.disconnect()


def test_plaintext_smpp_on_the_tls_port_never_binds(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    settings = {"smpp_tls_port": 0, "tls_cert_file": str(cert), "tls_key_file": str(key)}
    with running_bridge([account()], bridge_settings=settings) as bridge:
        client = smpplib.client.Client("127.0.0.1", bridge.bridge.ports["smpp_tls"], timeout=3)
        client.connect()
        with pytest.raises((smpplib.exceptions.ConnectionError, OSError)):
            client.bind_transceiver(system_id="partner1", password=PASSWORD)
        assert bridge.bridge.metrics()["binds_accepted"] == 0
        with socket.create_connection(("127.0.0.1", bridge.port), timeout=3):
            pass  # the plain listener is unaffected
