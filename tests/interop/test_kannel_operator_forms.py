"""The operator HTTP link's Kannel forms against a real Kannel 1.4.5 (docs/operator-http.md, "Inbound").

Kannel binds to the bridge (in the SMSC role) exactly as in test_kannel_smpp.py, but its
``sms-service`` uses the ``get-url`` the documentation gives operators, and MTs carry the documented
``dlr-url``. What Kannel calls is read the way API Gateway hands it to the function (the query
percent-decoded and read as UTF-8, errors replaced) and fed to the forms, so the escape codes, the
codings and the DLR types are checked against what Kannel really sends, not what its manual says.
Two Kannels: one as documented (``mo-recode = true``), one without it (UCS-2 as raw bytes).
"""

from __future__ import annotations

import re
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.entities import OperatorLink, Protocol
from smsbilling.logic.operator_http_forms import FormRejected, kannel_dlr, kannel_mo
from tests.interop.bridge_harness import PASSWORD, RunningBridge, account, running_bridge
from tests.interop.kannel import Callback, HttpSink, Kannel, SmppBind, kannel_installed, wait_until

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

RECODING, RAW = "kformsrecode", "kformsraw"
MO_QUERY = "token=t&id=%I&from=%p&to=%P&text=%b&coding=%c&charset=%C&udh=%u&smsc=%i"
DLR_QUERY = "token=t&type=%d&id=%F&answer=%A"
LINK = OperatorLink(link_id="kannel-link", operator_id="op", protocol=Protocol.HTTP)
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class DocumentedKannel(Kannel):
    """The harness's Kannel with the documented get-url (and mo-recode when asked)."""

    mo_recode: bool = False

    def write_config(self) -> Path:
        path = super().write_config()
        text = re.sub(
            r"^get-url = .*$",
            f'get-url = "{self.sink.url("/forms-mo")}?{MO_QUERY}"',
            path.read_text(),
            flags=re.M,
        )
        if self.mo_recode:
            text = text.replace("group = smsbox\n", "group = smsbox\nmo-recode = true\n", 1)
        path.write_text(text)
        return path


def gateway_query(callback: Callback) -> dict[str, list[str]]:
    """The query as the REST API gives it to the function: decoded, read as UTF-8, errors replaced."""
    return urllib.parse.parse_qs(
        callback.raw_query, keep_blank_values=True, encoding="utf-8", errors="replace"
    )


@pytest.fixture(scope="module", autouse=True)
def kannel_required() -> None:
    if not kannel_installed():  # not a skip: `make test` installs it
        pytest.fail("Kannel is not installed: run `make system-deps` (apt-get install kannel kannel-extras)")


@pytest.fixture(scope="module")
def bridge() -> Iterator[RunningBridge]:
    with running_bridge([account(RECODING), account(RAW)]) as running:
        yield running


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpSink]:
    with HttpSink() as http_sink:
        yield http_sink


def _kannel(
    bridge: RunningBridge, sink: HttpSink, workdir: Path, system_id: str, mo_recode: bool
) -> Iterator[Kannel]:
    bind = SmppBind(bridge.port, system_id, PASSWORD, smsc_id=system_id, enquire_link_interval_s=1)
    kannel = DocumentedKannel(bind, sink, workdir)
    kannel.mo_recode = mo_recode
    kannel.start()
    try:
        yield kannel
    finally:
        kannel.stop()


@pytest.fixture(scope="module")
def recoding(
    bridge: RunningBridge, sink: HttpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kannel]:
    yield from _kannel(bridge, sink, tmp_path_factory.mktemp("kannel-recode"), RECODING, True)


@pytest.fixture(scope="module")
def raw(bridge: RunningBridge, sink: HttpSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kannel]:
    yield from _kannel(bridge, sink, tmp_path_factory.mktemp("kannel-raw"), RAW, False)


def mo_via(
    bridge: RunningBridge, sink: HttpSink, system_id: str, msisdn: str, payload: bytes, coding: int
) -> Callback:
    bridge.call(bridge.bridge.outbox.put_mo(system_id, msisdn, "4444", payload, coding))
    [callback] = sink.wait_for(lambda cb: cb.path == "/forms-mo" and cb.query.get("from") == f"+{msisdn}")
    return callback


def test_gsm_text_mo_maps_as_documented(bridge: RunningBridge, sink: HttpSink, recoding: Kannel) -> None:
    gsm = b"VOTE  " + bytes([0x05]) + b"\x1b\x65 1"  # GSM 03.38 septets: "é" and the escaped "€"
    callback = mo_via(bridge, sink, RECODING, "447700900101", gsm, 0)
    mo = kannel_mo(gateway_query(callback))
    assert uuid.UUID(mo.operator_message_id)  # %I: Kannel's own message id
    assert (mo.source, mo.destination) == ("+447700900101", "4444")
    assert (mo.text, mo.payload_hex) == ("VOTE  é€ 1", None)  # %b keeps the double space; UTF-8 text
    assert gateway_query(callback)["smsc"] == [RECODING]


def test_ucs2_with_mo_recode_arrives_as_utf8_text(
    bridge: RunningBridge, sink: HttpSink, recoding: Kannel
) -> None:
    text = "Голос за 1 😀"
    callback = mo_via(bridge, sink, RECODING, "447700900102", text.encode("utf-16-be"), 8)
    mo = kannel_mo(gateway_query(callback))
    assert (mo.text, mo.payload_hex) == (text, None)


def test_ucs2_without_mo_recode_is_the_payload_or_refused(
    bridge: RunningBridge, sink: HttpSink, raw: Kannel
) -> None:
    cyrillic = "Голос за 1".encode("utf-16-be")
    mo = kannel_mo(gateway_query(mo_via(bridge, sink, RAW, "447700900103", cyrillic, 8)))
    assert (mo.data_coding, mo.payload_hex, mo.text) == (0x08, cyrillic.hex(), "")

    emoji = mo_via(bridge, sink, RAW, "447700900104", "Hi 😀".encode("utf-16-be"), 8)
    assert emoji.raw("text") == "Hi 😀".encode("utf-16-be")  # Kannel sent the bytes; the gateway breaks them
    with pytest.raises(FormRejected) as caught:
        kannel_mo(gateway_query(emoji))
    assert caught.value.code == "payload_not_recoverable"


def test_documented_dlr_url_gives_ack_then_delivered(
    bridge: RunningBridge, sink: HttpSink, raw: Kannel
) -> None:
    dlr_url = f"{sink.url('/forms-dlr')}?{DLR_QUERY}"
    status, _ = raw.sendsms(
        "447700900105", "Receipt for the forms", dlr_mask=1 | 2 | 8, **{"dlr-url": dlr_url}
    )
    assert status == 202
    wait_until(
        lambda: any(
            bytes.fromhex(mt.short_message_hex) == b"Receipt for the forms" for mt in bridge.sink.sent
        ),
        15,
        "the MT",
    )
    [mt] = [m for m in bridge.sink.sent if bytes.fromhex(m.short_message_hex) == b"Receipt for the forms"]
    [ack_cb] = sink.wait_for(lambda cb: cb.path == "/forms-dlr" and cb.query.get("type") == "8")
    ack = kannel_dlr(LINK, gateway_query(ack_cb), now=NOW)
    assert (ack.status, ack.operator_message_id) == (DlrStatus.ACCEPTED, mt.message_id)

    bridge.call(
        bridge.bridge.outbox.put_receipt(
            RAW, mt.message_id, DlrStatus.DELIVERED, source="BILLING", destination="447700900105"
        )
    )
    [final_cb] = sink.wait_for(lambda cb: cb.path == "/forms-dlr" and cb.query.get("type") == "1")
    final = kannel_dlr(LINK, gateway_query(final_cb), now=NOW)
    assert (final.status, final.operator_message_id, final.error_code) == (
        DlrStatus.DELIVERED,
        mt.message_id,
        "000",
    )
    assert final.receipt_id != ack.receipt_id
    assert (
        kannel_dlr(LINK, gateway_query(final_cb), now=NOW).receipt_id == final.receipt_id
    )  # a repeat: one event
