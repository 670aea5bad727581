"""Every UCP operation this core speaks as a frozen dataclass, with its wire layout.

Field order of each class is ``trn, <fields in wire order>``; every field has a default, so
``SubmitShortMessage(adc="447700900123", msg=b"hi")`` is a valid operation and the session
fills in the TRN. Fields are the wire strings (IRA, already without the hex layer where the field
is hex-encoded): ``msg`` holds the *octets* of AMsg/TMsg (or the digits of NMsg, MT 2), ``pwd``
the decoded password, ``xser`` the parsed XSer entries. Text conversion (GSM 03.38, the
alphanumeric OAdC) lives in :mod:`.text`.

``layout`` lists ``(name, kind, size, exact, ec)``: ``size`` is the maximum length of the field
on the wire, ``exact`` says the field, when present, must have exactly that length (time stamps,
PIDs), and ``ec`` is the error code to answer when the field is malformed. The codec interprets
these layouts; a unit test checks each layout against the dataclass fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Final

from . import constants as c

# field kinds
DIGITS: Final = 0  # decimal digits
TEXT: Final = 1  # printable IRA without "/" (reserved fields, SM, MVP)
HEX_TEXT: Final = 2  # IRA characters, hex-encoded on the wire (PWD, NPWD)
OADC: Final = 3  # digits, or an alphanumeric address (hex) when OTOA is 5039
MT: Final = 4  # message type, one digit; decides how MSG is read
NB: Final = 5  # number of bits in TMsg (MT 4)
MSG: Final = 6  # NMsg / AMsg / TMsg
XSER: Final = 7  # extra services, hex TLVs

FieldSpec = tuple[str, int, int, bool, int]
Layout = tuple[FieldSpec, ...]

_SYNTAX: Final = int(c.Ec.SYNTAX_ERROR)
ADDRESS_DIGITS_MAX: Final = 16
ALPHANUMERIC_OADC_HEX_MAX: Final = 22  # length octet + 11 characters packed in 10 octets
MSG_OCTETS_MAX: Final = 640
NMSG_DIGITS_MAX: Final = 160
XSER_HEX_MAX: Final = 1024
TEXT_MAX: Final = 256


def _digits(name: str, size: int, *, exact: bool = False, ec: int = _SYNTAX) -> FieldSpec:
    return (name, DIGITS, size, exact, ec)


def _text(name: str, size: int = TEXT_MAX) -> FieldSpec:
    return (name, TEXT, size, False, _SYNTAX)


_ADC: Final = _digits("adc", ADDRESS_DIGITS_MAX, ec=int(c.Ec.ADC_INVALID))
_ONE: Final = 1


@dataclass(frozen=True)
class XSer:
    """One extra-service entry of the XSer field: type, then its data octets."""

    type: int
    data: bytes = b""


@dataclass(frozen=True)
class Operation:
    """Base of all operations (O frames)."""

    ot: ClassVar[int] = -1
    layout: ClassVar[Layout] = ()
    trn: int = 0


@dataclass(frozen=True)
class CallInput(Operation):
    """OT 01: the SMT submits a message (MT 2 numeric or 3 alphanumeric). Kannel also accepts it
    from an SMSC as an MO, and so does this core (see :mod:`.rules`)."""

    ot: ClassVar[int] = c.CALL_INPUT
    adc: str = ""
    oadc: str = ""
    ac: str = ""
    mt: int = c.MT_ALPHANUMERIC
    msg: bytes = b""

    layout: ClassVar[Layout] = (
        _ADC,
        _digits("oadc", ADDRESS_DIGITS_MAX),
        _digits("ac", 16),
        ("mt", MT, 1, True, int(c.Ec.MESSAGE_TYPE_NOT_SUPPORTED)),
        ("msg", MSG, 2 * MSG_OCTETS_MAX, False, int(c.Ec.MESSAGE_TOO_LONG)),
    )


@dataclass(frozen=True)
class MtAlert(Operation):
    """OT 31: the SMT alerts the SMSC; in practice the keepalive of UCP links."""

    ot: ClassVar[int] = c.MT_ALERT
    adc: str = ""
    pid: str = c.PID_PC_OVER_TCP_IP

    # AdC is the SMT's address; Kannel puts its (possibly alphanumeric) login name there.
    layout: ClassVar[Layout] = (
        ("adc", TEXT, ADDRESS_DIGITS_MAX, False, int(c.Ec.ADC_INVALID)),
        _digits("pid", 4, exact=True),
    )


@dataclass(frozen=True)
class SessionManagement(Operation):
    """OT 60: open a session (STYP 1) with the SMT's address and password (login).

    OAdC is the login name; Kannel sends it with OTON 6 / ONPI 5 and it may be alphanumeric."""

    ot: ClassVar[int] = c.SESSION_MANAGEMENT
    oadc: str = ""
    oton: str = ""
    onpi: str = ""
    styp: str = c.STYP_OPEN_SESSION
    pwd: str = field(default="", repr=False)
    npwd: str = field(default="", repr=False)
    vers: str = "0100"
    ladc: str = ""
    lton: str = ""
    lnpi: str = ""
    opid: str = ""
    res1: str = ""

    layout: ClassVar[Layout] = (
        ("oadc", TEXT, ADDRESS_DIGITS_MAX, False, int(c.Ec.AUTHENTICATION_FAILURE)),
        _digits("oton", _ONE),
        _digits("onpi", _ONE),
        _digits("styp", _ONE),
        ("pwd", HEX_TEXT, 64, False, int(c.Ec.AUTHENTICATION_FAILURE)),
        ("npwd", HEX_TEXT, 64, False, int(c.Ec.NEW_AC_NOT_VALID)),
        _digits("vers", 4, exact=True),
        _digits("ladc", ADDRESS_DIGITS_MAX),
        _digits("lton", _ONE),
        _digits("lnpi", _ONE),
        _digits("opid", 2, exact=True),
        _text("res1", 16),
    )


@dataclass(frozen=True)
class Message50(Operation):
    """The 33 fields every 50-series operation carries (most of them empty in any one use)."""

    adc: str = ""
    oadc: str = ""
    ac: str = ""
    nrq: str = ""
    nadc: str = ""
    nt: str = ""
    npid: str = ""
    lrq: str = ""
    lrad: str = ""
    lpid: str = ""
    dd: str = ""
    ddt: str = ""
    vp: str = ""
    rpid: str = ""
    scts: str = ""
    dst: str = ""
    rsn: str = ""
    dscts: str = ""
    mt: int | None = c.MT_ALPHANUMERIC
    nb: int | None = None
    msg: bytes = b""
    mms: str = ""
    pr: str = ""
    dcs: str = ""
    mcls: str = ""
    rpi: str = ""
    cpg: str = ""
    rply: str = ""
    otoa: str = ""
    hplmn: str = ""
    xser: tuple[XSer, ...] = ()
    res4: str = ""
    res5: str = ""

    layout: ClassVar[Layout] = (
        _ADC,
        ("oadc", OADC, ALPHANUMERIC_OADC_HEX_MAX, False, _SYNTAX),
        _digits("ac", 16),
        _digits("nrq", _ONE),
        _digits("nadc", ADDRESS_DIGITS_MAX),
        _digits("nt", _ONE),
        _digits("npid", 4, exact=True),
        _digits("lrq", _ONE),
        _digits("lrad", ADDRESS_DIGITS_MAX),
        _digits("lpid", 4, exact=True),
        _digits("dd", _ONE),
        _digits("ddt", 10, exact=True, ec=int(c.Ec.TIME_PERIOD_NOT_VALID)),
        _digits("vp", 10, exact=True, ec=int(c.Ec.TIME_PERIOD_NOT_VALID)),
        _digits("rpid", 4, exact=True),
        _digits("scts", 12, exact=True),
        _digits("dst", _ONE),
        _digits("rsn", 3, exact=True),
        _digits("dscts", 12, exact=True),
        ("mt", MT, 1, True, int(c.Ec.MESSAGE_TYPE_NOT_SUPPORTED)),
        ("nb", NB, 4, False, _SYNTAX),
        ("msg", MSG, 2 * MSG_OCTETS_MAX, False, int(c.Ec.MESSAGE_TOO_LONG)),
        _digits("mms", _ONE),
        _digits("pr", _ONE),
        _digits("dcs", _ONE),
        _digits("mcls", _ONE),
        _digits("rpi", _ONE),
        _digits("cpg", _ONE),
        _digits("rply", _ONE),
        _text("otoa", 4),
        _digits("hplmn", ADDRESS_DIGITS_MAX),
        ("xser", XSER, XSER_HEX_MAX, False, _SYNTAX),
        _text("res4", 16),
        _text("res5", 16),
    )

    def xser_data(self, service_type: int) -> bytes | None:
        """The data of the first XSer entry of ``service_type`` (``None`` when absent)."""
        return next((entry.data for entry in self.xser if entry.type == service_type), None)

    @property
    def udh(self) -> bytes:
        """The GSM user data header carried in XSer type 01 (``b""`` when absent)."""
        return self.xser_data(c.XSER_GSM_UDH) or b""

    @property
    def data_coding(self) -> int | None:
        """The GSM DCS carried in XSer type 02, if any."""
        data = self.xser_data(c.XSER_GSM_DCS)
        return data[0] if data else None


@dataclass(frozen=True)
class SubmitShortMessage(Message50):
    """OT 51: the SMT submits a message (MT). The positive result's SM is ``AdC:SCTS``."""

    ot: ClassVar[int] = c.SUBMIT_SHORT_MESSAGE


@dataclass(frozen=True)
class DeliverShortMessage(Message50):
    """OT 52: the SMSC delivers a message (MO) to the SMT."""

    ot: ClassVar[int] = c.DELIVER_SHORT_MESSAGE


@dataclass(frozen=True)
class DeliveryNotification(Message50):
    """OT 53: the SMSC reports the fate of a submitted message (DLR): ``dst``, ``rsn``, ``scts``
    of the original message, its recipient in ``oadc``; see :mod:`.dlr`."""

    ot: ClassVar[int] = c.DELIVERY_NOTIFICATION


@dataclass(frozen=True)
class Ack:
    """A positive result (R frame, ACK "A") to operation ``ot`` with the same ``trn``.

    ``mvp`` (modified validity period) exists only in 50-series results; ``sm`` is the system
    message (``AdC:SCTS`` for 01/51/52, the SCTS for 53).
    """

    ot: int
    trn: int = 0
    sm: str = ""
    mvp: str = ""


@dataclass(frozen=True)
class Nack:
    """A negative result (R frame, NACK "N") with the error code ``ec`` and an optional ``sm``."""

    ot: int
    trn: int = 0
    ec: int = int(c.Ec.SYNTAX_ERROR)
    sm: str = ""


Result = Ack | Nack
Message = Operation | Ack | Nack

OPERATION_CLASSES: Final[dict[int, type[Operation]]] = {
    cls.ot: cls
    for cls in (
        CallInput,
        MtAlert,
        SessionManagement,
        SubmitShortMessage,
        DeliverShortMessage,
        DeliveryNotification,
    )
}
