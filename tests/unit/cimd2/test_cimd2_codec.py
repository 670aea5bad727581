"""CIMD2 codec: the specification's examples, round trips of every packet, and the code (or NACK)
of each kind of malformation.

Quoted from the CIMD interface specification (Nokia SMS Center; the operator editions published
by Telenor and Elisa): the header example "01:001" with its bytes ``2 48 49 58 48 48 49 9``
(4.1.1), binary user data ``034:0500032a0301`` (example 20), and the default character conversion
over an 8-bit link ``033:@£$¥èéùìòÇ`` = ``48,51,51,58,64,163,36,165,232,233,249,236,242,199``
(example 21). The login packet is the one jcimd's tests build.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpp_bridge.cimd2 import (
    Alive,
    Cimd2Error,
    Code,
    DeliverMessage,
    DeliverStatusReport,
    Login,
    Logout,
    Message,
    Packet,
    Response,
    SubmitMessage,
    decode_frame,
    encode,
)
from smpp_bridge.cimd2.codec import checksum
from smpp_bridge.cimd2.packets import REQUEST_CLASSES

from .cimd2_strategies import any_packet, field_names, request, response

ROUND_TRIP = settings(max_examples=150, deadline=timedelta(milliseconds=500))


def packet(text: str, *, with_checksum: bool = True, encoding: str = "latin-1") -> bytes:
    data = b"\x02" + text.encode(encoding)
    return data + (f"{checksum(data):02X}".encode() if with_checksum else b"") + b"\x03"


def test_spec_header_example_bytes() -> None:
    data = bytes([2, 48, 49, 58, 48, 48, 49, 9])  # "01:001" + TAB, as the specification prints it
    decoded = decode_frame(data + b"\x03")
    assert decoded == Login(number=1)
    assert encode(Login(number=1), with_checksum=False) == data + b"\x03"


def test_spec_binary_user_data_example() -> None:
    decoded = decode_frame(packet("03:001\t021:358401234567\t034:0500032a0301\t"))
    assert isinstance(decoded, SubmitMessage)
    assert decoded.user_data_binary == bytes.fromhex("0500032a0301")
    assert decode_frame(encode(decoded)) == decoded


def test_spec_8bit_user_data_example_is_kept_as_the_wire_string() -> None:
    octets = bytes([48, 51, 51, 58, 64, 163, 36, 165, 232, 233, 249, 236, 242, 199])
    assert octets.decode("latin-1") == "033:@£$¥èéùìòÇ"
    data = b"\x0220:002\t021:4477\t023:358401234567\t" + octets + b"\t\x03"
    decoded = decode_frame(data)
    assert isinstance(decoded, DeliverMessage)
    assert decoded.user_data == "@£$¥èéùìòÇ"
    assert encode(decoded, with_checksum=False) == data


def test_login_packet_as_jcimd_builds_it() -> None:
    data = packet("01:001\t010:username\t011:password\t")
    assert decode_frame(data) == Login(number=1, user_identity="username", password="password")
    assert encode(Login(number=1, user_identity="username", password="password")) == data
    assert "password" not in repr(Login(password="secret")) and "secret" not in repr(Login(password="secret"))


def test_the_checksum_covers_stx_to_the_last_tab() -> None:
    data = encode(Alive(number=3))
    assert data == b"\x0240:003\t" + f"{sum(b'\x0240:003\t') % 256:02X}".encode() + b"\x03"
    lower = data[:-3] + data[-3:-1].lower() + b"\x03"
    assert decode_frame(lower) == Alive(number=3)


def test_checksum_is_optional() -> None:
    assert decode_frame(b"\x0240:003\t\x03") == Alive(number=3)
    assert encode(Alive(number=3), with_checksum=False) == b"\x0240:003\t\x03"


def test_layouts_match_the_dataclass_fields() -> None:
    for cls in REQUEST_CLASSES.values():
        assert [spec[0] for spec in cls.layout] == field_names(cls)


@pytest.mark.parametrize("cls", list(REQUEST_CLASSES.values()), ids=lambda cls: cls.__name__)
def test_every_request_round_trips(cls: type[Packet]) -> None:
    @given(request(cls), st.booleans())
    @ROUND_TRIP
    def check(message: Packet, with_checksum: bool) -> None:
        assert decode_frame(encode(message, with_checksum=with_checksum)) == message

    check()


@given(response(), st.booleans())
@ROUND_TRIP
def test_every_response_round_trips(message: Response, with_checksum: bool) -> None:
    assert decode_frame(encode(message, with_checksum=with_checksum)) == message


@given(any_packet)
@ROUND_TRIP
def test_checksum_of_every_encoding_is_right(message: Message) -> None:
    data = encode(message)
    last_tab = data.rindex(b"\t")
    assert int(data[last_tab + 1 : -1], 16) == sum(data[: last_tab + 1]) % 256


def test_untyped_parameters_are_kept_in_order() -> None:
    decoded = decode_frame(packet("01:001\t019:5\t010:user\t012:sub\t011:pw\t"))
    assert decoded == Login(number=1, user_identity="user", password="pw", extra=((19, "5"), (12, "sub")))
    assert decode_frame(encode(decoded)) == decoded


# --- malformations ------------------------------------------------------------------------------
def error_of(data: bytes) -> Cimd2Error:
    with pytest.raises(Cimd2Error) as info:
        decode_frame(data)
    return info.value


def test_wrong_checksum_is_a_transmission_error() -> None:
    data = bytearray(encode(Alive(number=3)))
    data[-2] = ord("0") if data[-2] != ord("0") else ord("1")
    error = error_of(bytes(data))
    assert (error.transmission, error.opcode, error.number) == (True, 40, 3)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("03:001\t021:12a4\t", Code.INCORRECT_DESTINATION_ADDRESS),
        ("03:001\t021:1\t021:2\t", Code.INCORRECT_NUMBER_OF_DESTINATIONS),
        ("03:001\t021:1\t033:hi\t034:00\t", Code.INCORRECT_USER_DATA_COMBINATION),
        ("03:001\t021:1\t032:ABC\t", Code.INCORRECT_USER_DATA_COMBINATION),
        ("03:001\t021:1\t030:256\t", Code.INCORRECT_DCS),
        ("03:001\t021:1\t050:-2\t", Code.INCORRECT_VALIDITY_PERIOD),
        ("03:001\t021:1\t051:1234\t", Code.INCORRECT_VALIDITY_PERIOD),
        ("03:001\t021:1\t056:64\t", Code.INCORRECT_STATUS_REPORT_REQUEST),
        ("03:001\t021:1\t067:0\t", Code.INCORRECT_PRIORITY),
        ("03:001\t021:1\t027:TWELVE_CHARS\t", Code.INCORRECT_ORIGINATOR_ADDRESS),
        ("03:001\t021:1\t033:" + "x" * 481 + "\t", Code.USER_DATA_SYNTAX_ERROR),
        ("01:001\t010:a\t010:b\t", Code.SYNTAX_ERROR),
        ("01:001\t010:é\t", Code.INVALID_LOGIN),
        ("01:001\t10:a\t", Code.SYNTAX_ERROR),
        ("01:001\t010-a\t", Code.SYNTAX_ERROR),
        ("23:002\t061:x\t", Code.PARAMETER_FORMATTING_ERROR),
        ("07:001\t", Code.UNEXPECTED_OPERATION),
        ("04:001\t", Code.UNEXPECTED_OPERATION),
    ],
)
def test_parameter_errors_carry_their_code(text: str, code: int) -> None:
    error = error_of(packet(text))
    assert error.code == code, error
    assert error.number is not None and not error.transmission


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02\x03",
        b"\x020A:001\t\x03",
        b"\x0201-001\t\x03",
        b"\x0201:001\x03",
        b"\x0201:256\t\x03",  # packet numbers stop at 255
        b"\x0201:0001\t\x03",
    ],
)
def test_unreadable_headers_give_no_number(data: bytes) -> None:
    assert error_of(data).number is None


@pytest.mark.parametrize(
    "data",
    [
        b"\x0201:001\t010:a\x00\t\x03",  # NUL
        b"\x0201:001\t010:a\tXYZ\x03",  # trailer neither empty nor a checksum
        b"\x0201:001\t010:a\t1\x03",
    ],
)
def test_nul_and_bad_trailers_are_syntax_errors(data: bytes) -> None:
    error = error_of(data)
    assert error.code == Code.SYNTAX_ERROR and error.number == 1


@pytest.mark.parametrize(
    "message",
    [
        Login(number=256),
        Login(number=-1),
        Login(user_identity="a\tb"),
        Login(user_identity="é"),
        SubmitMessage(destination_address="12a"),
        SubmitMessage(user_data="a", user_data_binary=b"b"),
        SubmitMessage(data_coding_scheme=300),
        SubmitMessage(priority=True),  # a bool is not an int here
        SubmitMessage(user_data_header="00"),  # type: ignore[arg-type]
        SubmitMessage(user_data="€"),  # not Latin-1 on the wire
        SubmitMessage(extra=((21, "1"),)),  # typed number in extra
        SubmitMessage(extra=((1000, "1"),)),
        SubmitMessage(extra=((19, "a\x03"),)),
        Response(51, destination_address="1"),  # only the submit response has 021
        Response(54),  # response to an untyped request
        Response(3),  # a request opcode
        DeliverStatusReport(status_code=100),
    ],
)
def test_encoding_refuses_invalid_values(message: Message) -> None:
    with pytest.raises(Cimd2Error):
        encode(message)


def test_response_ok() -> None:
    assert Response(53).ok and Response(53, error_code=0).ok
    assert not Response(53, error_code=300).ok
    assert not Response(99).ok and not Response(98).ok


def test_logout_and_alive_have_no_parameters() -> None:
    assert {f.name for f in fields(Logout())} == {"number", "extra"}
    assert decode_frame(encode(replace(Logout(), number=5))) == Logout(number=5)
