"""Kannel 1.4.5 (Debian ``kannel``) as a real SMPP peer: an ESME bound to the bridge's SMSC role.

``running_kannel(bind, sink, workdir)`` writes a ``kannel.conf`` into ``workdir`` with free loopback
ports picked at run time, starts bearerbox and then smsbox as direct child processes (so we hold
their real PIDs, no shell in between), waits until ``status.txt`` shows the SMPP connection online
and smsbox attached, and stops both at the end (SIGTERM, then SIGKILL after a timeout).
``Kannel.sendsms`` injects an MT through smsbox's HTTP interface; ``HttpSink`` is the loopback
endpoint Kannel calls for MOs (the sms-service ``get-url``) and DLRs (the per-message ``dlr-url``).

Why it is built this way (see docs/interop.md):

* Bearerbox authenticates boxes by IP only, so a box pointed at the wrong port silently attaches to
  someone else's bearerbox and eats its messages. Every port is therefore free and unique, every
  listener is on 127.0.0.1, and the admin and sendsms passwords are random per instance.
* A port picked free can still be taken before bearerbox binds it; a bearerbox that exits during
  start-up is retried with new ports (``START_ATTEMPTS_MAX``).
* ``sms-resend-freq = 1``: Kannel re-queues a submit answered with a temporary error
  (ESME_RMSGQFUL, ESME_RTHROTTLED) and by default waits 60 s before resending it.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

SYSTEM_ID_CHARS_MAX = 15  # SMPP 3.4 bind system_id: C-Octet String of at most 16 octets incl. NUL
PASSWORD_CHARS_MAX = 8  # SMPP 3.4 bind password: at most 9 octets incl. NUL
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
START_ATTEMPTS_MAX = 3
HTTP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.1
SENDSMS_USER = "tester"


def _binary(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


def kannel_installed() -> bool:
    return _binary("bearerbox") is not None and _binary("smsbox") is not None


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago (all held at once while picking)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_until(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)


# --------------------------------------------------------------------------- HTTP sink


@dataclass(frozen=True)
class Callback:
    """One request Kannel made to the sink: the path and the query, decoded as UTF-8 and raw."""

    path: str
    query: dict[str, str]
    raw_query: str

    def raw(self, name: str) -> bytes:
        """A parameter's bytes as sent (Kannel's ``%b`` escape carries binary, e.g. UCS-2)."""
        for pair in self.raw_query.split("&"):
            key, _, value = pair.partition("=")
            if urllib.parse.unquote_plus(key) == name:
                return urllib.parse.unquote_to_bytes(value.replace("+", " "))
        raise KeyError(name)


class HttpSink:
    """A loopback HTTP server that answers every GET with an empty 200 and records it."""

    def __init__(self) -> None:
        self.callbacks: list[Callback] = []
        self._changed = threading.Condition()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = HTTP_TIMEOUT_S * 2  # an idle keep-alive connection does not hold a thread for ever

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                parsed = dict(urllib.parse.parse_qsl(query, keep_blank_values=True, errors="replace"))
                with sink._changed:
                    sink.callbacks.append(Callback(path, parsed, query))
                    sink._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HttpSink:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(
        self, predicate: Callable[[Callback], bool], count: int = 1, timeout_s: float = 15.0
    ) -> list[Callback]:
        """The first ``count`` callbacks matching ``predicate``, waiting up to ``timeout_s`` for them."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = [cb for cb in self.callbacks if predicate(cb)]
                if len(found) >= count:
                    return found[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"got {len(found)} of {count} callbacks; all: {self.callbacks}")
                self._changed.wait(remaining)


# --------------------------------------------------------------------------- Kannel's PDU dumps

_LOG_LINE = re.compile(r"^\S+ \S+ \[\d+\] \[(\d+)\] DEBUG: (.*)$")
_DUMP_HEADER = re.compile(r"\]: (Got|Sending) (?:PDU|enquire link|unbind):$")
_FIELD = re.compile(r"^  (\w+):\s?(.*)$")  # two spaces: a PDU field; deeper lines belong to an octet string


@dataclass(frozen=True)
class LoggedPdu:
    """A PDU as bearerbox dumped it at log-level 0: what Kannel itself saw on the wire.

    ``direction`` is ``got`` (from the bridge) or ``sent`` (to the bridge). Field values are ``int``
    for integers, ``str`` for C-strings, ``bytes`` for octet strings and ``None`` for NULL.
    """

    direction: str
    type_name: str
    fields: dict[str, int | str | bytes | None]

    def __getitem__(self, name: str) -> int | str | bytes | None:
        return self.fields[name]

    def octets(self, name: str) -> bytes:
        """An octet-string field as bytes (Kannel dumps printable ones as quoted text, others in hex)."""
        value = self.fields.get(name)
        if isinstance(value, str):
            return value.encode("latin-1")
        if isinstance(value, bytes):
            return value
        return b""


def _field_value(raw: str) -> int | str | bytes | None:
    if raw == "NULL":
        return None
    if raw.startswith('"') and raw.endswith('"'):
        return raw[1:-1]
    number, _, _ = raw.partition(" = 0x")
    if number.lstrip("-").isdigit():
        return int(number)
    return raw


@dataclass
class _OpenDump:
    direction: str
    fields: dict[str, int | str | bytes | None] = field(default_factory=dict)
    octets: dict[str, bytearray] = field(default_factory=dict)
    octets_of: str | None = None  # the octet-string field whose hex lines come next

    def close(self) -> LoggedPdu:
        fields = {**self.fields, **{name: bytes(data) for name, data in self.octets.items()}}
        return LoggedPdu(self.direction, str(fields.pop("type_name", "")), fields)


def parse_pdu_dumps(log: str) -> list[LoggedPdu]:
    """Every PDU dump (``Got PDU``, ``Sending PDU``/``enquire link``/``unbind``) in a bearerbox log.

    In log order; lines of other threads interleaved with a dump are kept apart by thread id.
    """
    pdus: list[LoggedPdu] = []
    open_dumps: dict[str, _OpenDump] = {}
    for line in log.splitlines():
        match = _LOG_LINE.match(line)
        if match is None:
            continue
        thread, text = match.groups()
        if text.startswith("SMPP[") and (header := _DUMP_HEADER.search(text)) is not None:
            open_dumps[thread] = _OpenDump("got" if header.group(1) == "Got" else "sent")
            continue
        dump = open_dumps.get(thread)
        if dump is None:
            continue
        if text == "SMPP PDU dump ends.":
            pdus.append(open_dumps.pop(thread).close())
        elif (field_match := _FIELD.match(text)) is not None:
            name, raw = field_match.groups()
            dump.octets_of = None if raw else name
            if raw:
                dump.fields[name] = _field_value(raw)
            else:
                dump.octets[name] = bytearray()
        elif dump.octets_of is not None and text.lstrip().startswith("data: "):
            hex_part = text.lstrip().removeprefix("data: ").split("   ", 1)[0]
            dump.octets[dump.octets_of] += bytes.fromhex(hex_part)
    return pdus


# --------------------------------------------------------------------------- Kannel

_CONFIG = Template("""\
# Written by tests/interop/kannel.py: Kannel as an SMPP ESME bound to the bridge under test.
group = core
admin-port = $admin_port
admin-interface = 127.0.0.1
admin-password = $admin_password
status-password = $admin_password
admin-deny-ip = "*.*.*.*"
admin-allow-ip = "127.0.0.1"
smsbox-port = $smsbox_port
smsbox-interface = 127.0.0.1
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
log-file = "$dir/bearerbox.log"
log-level = $log_level
access-log = "$dir/access.log"
dlr-storage = internal
sms-resend-freq = 1
sms-resend-retry = -1

group = smsc
smsc = smpp
smsc-id = $smsc_id
host = 127.0.0.1
port = $smsc_port
transceiver-mode = true
smsc-username = $system_id
smsc-password = $password
system-type = ""
interface-version = 34
source-addr-ton = 1
source-addr-npi = 1
dest-addr-ton = 1
dest-addr-npi = 1
enquire-link-interval = $enquire_link_interval_s
max-pending-submits = $max_pending_submits
reconnect-delay = $reconnect_delay_s

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $smsbox_port
sendsms-port = $sendsms_port
sendsms-interface = 127.0.0.1
log-file = "$dir/smsbox.log"
log-level = $log_level
access-log = "$dir/smsbox-access.log"

group = sendsms-user
username = $sendsms_user
password = $sendsms_password
concatenation = true
max-messages = 10

group = sms-service
keyword = default
catch-all = true
get-url = "$mo_url?from=%p&to=%P&text=%a&binary=%b&smsc=%i&coding=%c"
max-messages = 0
omit-empty = true
""")


@dataclass(frozen=True)
class SmppBind:
    """Where and how Kannel's ``smsc = smpp`` group binds (transceiver mode)."""

    port: int
    system_id: str
    password: str
    smsc_id: str = "bridge"
    reconnect_delay_s: int = 1
    enquire_link_interval_s: int = 30
    max_pending_submits: int = 10  # Kannel's window of outstanding submit_sm

    def __post_init__(self) -> None:
        if not 0 < len(self.system_id) <= SYSTEM_ID_CHARS_MAX:
            raise ValueError(f"SMPP 3.4 system_id is 1..{SYSTEM_ID_CHARS_MAX} characters")
        if len(self.password) > PASSWORD_CHARS_MAX:
            raise ValueError(f"SMPP 3.4 password is at most {PASSWORD_CHARS_MAX} characters")


class KannelError(RuntimeError):
    """Kannel did not start or behave as the harness needs; carries the tail of its logs."""


@dataclass
class _Ports:
    admin: int
    smsbox: int
    sendsms: int

    @classmethod
    def pick(cls) -> _Ports:
        return cls(*free_ports(3))


@dataclass
class Kannel:
    bind: SmppBind
    sink: HttpSink
    workdir: Path
    ports: _Ports = field(default_factory=_Ports.pick)
    admin_password: str = field(default_factory=lambda: secrets.token_hex(8))
    sendsms_password: str = field(default_factory=lambda: secrets.token_hex(8))
    log_level: int = 0  # 0 dumps every PDU (the tests read them); benchmarks use 3 (errors only)
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # ------------------------------------------------------------------ config and processes
    @property
    def config_file(self) -> Path:
        return self.workdir / "kannel.conf"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            _CONFIG.substitute(
                dir=self.workdir,
                admin_port=self.ports.admin,
                smsbox_port=self.ports.smsbox,
                sendsms_port=self.ports.sendsms,
                admin_password=self.admin_password,
                smsc_id=self.bind.smsc_id,
                smsc_port=self.bind.port,
                system_id=self.bind.system_id,
                password=self.bind.password,
                reconnect_delay_s=self.bind.reconnect_delay_s,
                enquire_link_interval_s=self.bind.enquire_link_interval_s,
                max_pending_submits=self.bind.max_pending_submits,
                log_level=self.log_level,
                sendsms_user=SENDSMS_USER,
                sendsms_password=self.sendsms_password,
                mo_url=self.sink.url("/mo"),
            )
        )
        self.config_file.chmod(0o600)  # it holds the bind password
        return self.config_file

    def _launch(self, box: str) -> None:
        binary = _binary(box)
        if binary is None:
            raise KannelError(f"{box} not installed (apt-get install kannel)")
        console = (self.workdir / f"{box}.console").open("ab")
        with console:  # the child keeps its own descriptor
            self._processes[box] = subprocess.Popen(
                [binary, "-v", "1", str(self.config_file)],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the test run does not hit Kannel before we stop it
            )

    def _alive(self, box: str) -> bool:
        process = self._processes.get(box)
        return process is not None and process.poll() is None

    def start(self, *, wait_online: bool = True, timeout_s: float = START_TIMEOUT_S) -> None:
        """Bearerbox, then smsbox; retried on fresh ports if bearerbox dies while starting."""
        for attempt in range(1, START_ATTEMPTS_MAX + 1):
            self.write_config()
            self._launch("bearerbox")
            try:
                wait_until(
                    lambda: not self._alive("bearerbox") or self._status_or_none() is not None,
                    timeout_s,
                    "bearerbox's admin port",
                )
                if not self._alive("bearerbox"):
                    raise KannelError(f"bearerbox exited while starting:\n{self.log_tail('bearerbox')}")
                break
            except (KannelError, TimeoutError):
                self.stop()
                if attempt == START_ATTEMPTS_MAX:
                    raise
                self.ports = _Ports.pick()
        self._launch("smsbox")
        try:
            wait_until(self._smsbox_ready, timeout_s, "smsbox attached and its sendsms port open")
            if wait_online:
                self.wait_online(timeout_s)
        except (KannelError, TimeoutError) as error:
            logs = "\n".join(self.log_tail(box) for box in ("bearerbox", "smsbox"))
            self.stop()
            raise KannelError(f"{error}\n{logs}") from error

    def _smsbox_ready(self) -> bool:
        if not (self._alive("smsbox") and self._alive("bearerbox")):
            raise KannelError("a Kannel box exited while starting")
        status = self._status_or_none() or ""
        if "smsbox:" not in status:  # our bearerbox (random admin password) lists our smsbox
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.ports.sendsms), 1):
            return True
        return False

    def stop(self) -> None:
        """SIGTERM smsbox, then bearerbox (it unbinds); SIGKILL whatever outlives ``STOP_TIMEOUT_S``."""
        for box in ("smsbox", "bearerbox"):
            process = self._processes.pop(box, None)
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_S)

    @property
    def pids(self) -> dict[str, int]:
        return {box: process.pid for box, process in self._processes.items()}

    # ------------------------------------------------------------------ status and logs
    def _status_or_none(self) -> str | None:
        url = f"http://127.0.0.1:{self.ports.admin}/status.txt?password={self.admin_password}"
        try:
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:
                body = response.read().decode("utf-8", "replace")
        except (OSError, urllib.error.URLError):
            return None
        return body if body.startswith("Kannel bearerbox version") else None  # not "Denied", not a stranger

    def status(self) -> str:
        status = self._status_or_none()
        if status is None:
            raise KannelError("bearerbox's status.txt does not answer")
        return status

    def smsc_status(self) -> str:
        """Our SMSC connection's line in status.txt: ``bridge[bridge] SMPP:... (online 3s, rcvd: ...)``.

        The state in parentheses is ``online``, ``connecting``, ``re-connecting`` or ``dead``.
        """
        status = self.status()
        for line in status.splitlines():
            if line.strip().startswith(f"{self.bind.smsc_id}["):
                return line.strip()
        raise KannelError(f"no SMSC {self.bind.smsc_id!r} in status.txt:\n{status}")

    def is_online(self) -> bool:
        return "(online" in self.smsc_status()

    def wait_online(self, timeout_s: float = START_TIMEOUT_S) -> None:
        wait_until(self.is_online, timeout_s, f"SMSC {self.bind.smsc_id!r} online")

    def log(self, name: str) -> str:
        """A log file from the work directory: bearerbox, smsbox, access, smsbox-access."""
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pdus(self, type_name: str | None = None, direction: str | None = None) -> list[LoggedPdu]:
        """The SMPP PDUs bearerbox logged, optionally only one type and one direction."""
        return [
            pdu
            for pdu in parse_pdu_dumps(self.log("bearerbox"))
            if (type_name is None or pdu.type_name == type_name)
            and (direction is None or pdu.direction == direction)
        ]

    def log_tail(self, name: str, lines: int = 40) -> str:
        return f"--- {name}.log ---\n" + "\n".join(self.log(name).splitlines()[-lines:])

    # ------------------------------------------------------------------ sending
    def dlr_url(self, tag: str) -> str:
        """A dlr-url for the sink: DLR type (%d), the SMSC's message id (%F) and its answer (%A)."""
        return self.sink.url(f"/dlr?tag={urllib.parse.quote(tag)}&type=%d&fid=%F&answer=%A&to=%P")

    def sendsms(
        self,
        to: str,
        text: str,
        *,
        sender: str = "BILLING",
        dlr_mask: int | None = None,
        dlr_tag: str | None = None,
        **extra: str | int,
    ) -> tuple[int, str]:
        """smsbox's ``/cgi-bin/sendsms``; returns the HTTP status and body (``0: Accepted for delivery``)."""
        params: dict[str, str | int] = {
            "username": SENDSMS_USER,
            "password": self.sendsms_password,
            "from": sender,
            "to": to,
            "text": text,
            "smsc": self.bind.smsc_id,
        }
        if dlr_mask is not None:
            params["dlr-mask"] = dlr_mask
        if dlr_tag is not None:
            params["dlr-url"] = self.dlr_url(dlr_tag)
        params.update(extra)
        url = f"http://127.0.0.1:{self.ports.sendsms}/cgi-bin/sendsms?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")


@contextlib.contextmanager
def running_kannel(
    bind: SmppBind, sink: HttpSink, workdir: Path, *, wait_online: bool = True, log_level: int = 0
) -> Iterator[Kannel]:
    kannel = Kannel(bind, sink, workdir, log_level=log_level)
    kannel.start(wait_online=wait_online)
    try:
        yield kannel
    finally:
        kannel.stop()
