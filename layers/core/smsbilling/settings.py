"""Every limit and tunable of the platform, in one validated settings model.

Values come from environment variables with the prefix ``SMSBILLING_`` and ``__`` between a
group and a field (``SMSBILLING_SMPP__WINDOW_OUTSTANDING_MAX=50``). Only composition roots
(Lambda handlers, the bridge's ``__main__``, the local-cloud runner) call :func:`load_settings`;
the domain and the logic receive the group they need as an argument, never read the environment.

Names carry their unit last (``_s``, ``_ms``, ``_bytes``, ``_per_s``, ``_max``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableNames(_Group):
    """Physical resource names, injected by the template as environment variables."""

    entities: str = "smsbilling-entities"
    messages: str = "smsbilling-messages"
    ledger: str = "smsbilling-ledger"
    counters: str = "smsbilling-counters"
    idempotency: str = "smsbilling-idempotency"


class QueueUrls(_Group):
    mo: str = ""
    mt: str = ""
    dlr: str = ""
    outbound: str = ""
    delivery: str = ""  # MoRouted commands for the partner-delivery consumer
    delivery_dead_letter: str = ""  # its DLQ: partner delivery dead-letters there with a reason


class ApiLimits(_Group):
    request_body_bytes_max: int = Field(default=256 * 1024, gt=0)
    page_size_max: int = Field(default=200, gt=0)
    idempotency_key_ttl_s: int = Field(default=24 * 3600, ge=24 * 3600)
    # API conventions (web/conventions.py, docs/api-conventions.md).
    idempotency_key_chars_max: int = Field(default=255, ge=16, le=255)
    idempotency_lease_s: int = Field(
        default=30, ge=1, le=900, description="an in-flight claim outlives its request (API Gateway: 29 s)"
    )
    idempotency_in_flight_retry_after_s: int = Field(default=1, ge=1, le=60, description="Retry-After of 409")
    idempotency_response_bytes_max: int = Field(
        default=256 * 1024, ge=1024, le=300 * 1024, description="larger answers are not kept (items: 400 KB)"
    )
    api_key_requests_per_s_max: int = Field(default=50, ge=1, description="per API key, fixed UTC second")
    api_key_requests_per_min_max: int = Field(default=1200, ge=1, description="per API key, fixed UTC minute")
    # Per partner, over all its API keys (docs/traffic/rate-limits-and-countries.md).
    partner_requests_per_s_max: int = Field(default=100, ge=1, description="per partner, fixed UTC second")
    partner_requests_per_min_max: int = Field(default=3000, ge=1, description="per partner, fixed UTC minute")


class MessageLimits(_Group):
    text_chars_max: int = Field(default=1530, gt=0)
    segments_max: int = Field(default=10, gt=0, le=255)
    reassembly_timeout_s: int = Field(default=300, gt=0)
    reassembly_pending_max: int = Field(default=10_000, gt=0)
    reassembly_done_ttl_s: int = Field(
        default=14 * 86_400, gt=0, description="keep a long MO's completion while its MO may be redelivered"
    )
    tariff_plans_cache_s: int = Field(default=60, ge=0, description="how long the MO processor caches plans")
    mt_final_wait_s: int = Field(default=48 * 3600, gt=0, description="no final DLR by then: expired")
    mt_validity_s: int = Field(default=24 * 3600, gt=0, description="validity period asked of the SMSC")
    mt_correlation_keep_s: int = Field(
        default=7 * 86_400, gt=0, description="OPID# items live this long past the MT's final wait (TTL)"
    )
    mt_receipts_parked_max: int = Field(
        default=8, ge=1, le=50, description="receipts kept on one OPID# item before its submit result"
    )
    mt_write_conflict_retries_max: int = Field(default=8, ge=0, le=50, description="optimistic MT writes")
    mt_deadline_margin_s: float = Field(
        default=2.0, ge=0, description="no HTTP call starts with less than its timeout + this left to run"
    )
    mt_due_shards_count: int = Field(
        default=4, ge=1, le=100, description="gsi1 partitions of the MT expiry index; may only grow"
    )
    mt_expiry_per_run_max: int = Field(default=1000, ge=1, description="MTs one expiry sweep settles")


class OperatorMtLimits(_Group):
    """Sending MT parts to HTTP operator links (docs/operator-http.md)."""

    request_timeout_s: float = Field(default=5.0, gt=0, le=30, description="one POST, in total")
    response_body_bytes_max: int = Field(default=4096, ge=256, le=64 * 1024)


class LedgerLimits(_Group):
    """The ledger's limits and hot-account knobs (see docs/billing.md for the arithmetic).

    Shard counts may only grow: a store opened with more shards opens the missing items, and
    balances are read over every shard up to the count.
    """

    platform_balance_shards_count: int = Field(default=64, ge=1, le=100)
    partner_balance_shards_count: int = Field(default=8, ge=1, le=100)
    transfer_legs_max: int = Field(default=16, ge=2, le=99)  # + 1 record <= 100 items per transaction
    conflict_retries_max: int = Field(default=6, ge=0, le=20)
    conflict_backoff_base_ms: int = Field(default=5, ge=1, le=1000)
    credit_block_size_credits: int = Field(default=100, gt=0)
    credit_block_slots_max: int = Field(default=8, gt=0, le=64)
    post_batch_transfers_max: int = Field(default=25, ge=1, le=50)  # transfers per aggregated transaction
    partner_index_shards_count: int = Field(
        default=4, ge=1, le=100, description="P# partitions of a partner's statement index; may only grow"
    )


class SmppLimits(_Group):
    pdu_size_bytes_max: int = Field(default=64 * 1024, ge=16)
    window_outstanding_max: int = Field(default=10, gt=0)
    enquire_link_interval_s: float = Field(default=30.0, gt=0)
    response_timeout_s: float = Field(default=30.0, gt=0)
    inactivity_timeout_s: float = Field(default=120.0, gt=0)
    bind_timeout_s: float = Field(default=10.0, gt=0)
    binds_per_account_max: int = Field(default=4, gt=0)
    bind_failures_before_lockout_max: int = Field(default=5, gt=0)
    lockout_s: float = Field(default=300.0, gt=0)
    submit_rate_per_s: float = Field(default=100.0, gt=0)  # per bind (server role)
    account_submit_rate_per_s: float = Field(default=200.0, gt=0, description="all binds of one account")
    # Client role (binds out to operator SMSCs); window and granted TPS come from the OperatorLink.
    connect_timeout_s: float = Field(default=10.0, gt=0)
    reconnect_backoff_base_s: float = Field(default=1.0, gt=0)  # full jitter: U(0, min(max, base * 2**n))
    reconnect_backoff_max_s: float = Field(default=60.0, gt=0)
    throttle_backoff_s: float = Field(default=1.0, gt=0)  # pause after ESME_RTHROTTLED / ESME_RMSGQFUL
    submit_wait_s_max: float = Field(default=30.0, gt=0)  # for a bind, a window slot and a pacing turn
    deliver_callback_timeout_s: float = Field(default=30.0, gt=0)  # then ESME_RX_T_APPN, SMSC redelivers
    unbind_timeout_s: float = Field(default=5.0, gt=0)


class BridgeSettings(_Group):
    host: str = "127.0.0.1"
    smpp_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    smpp_tls_port: int | None = Field(default=None, ge=0, le=65535, description="None: no TLS listener")
    # UCP/EMI and CIMD2 listeners (same accounts, limits and outbox as SMPP; docs/ucp-cimd2.md).
    ucp_port: int | None = Field(default=0, ge=0, le=65535, description="0 picks a free port; None: none")
    ucp_tls_port: int | None = Field(default=None, ge=0, le=65535, description="None: no TLS listener")
    cimd2_port: int | None = Field(default=0, ge=0, le=65535, description="0 picks a free port; None: none")
    cimd2_tls_port: int | None = Field(default=None, ge=0, le=65535, description="None: no TLS listener")
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    health_port: int = Field(default=0, ge=0, le=65535)
    drain_timeout_s: float = Field(default=10.0, gt=0)
    queue_linger_s: float = Field(default=0.005, ge=0, le=1.0)
    outbox_poll_interval_s: float = Field(default=1.0, gt=0, description="when idle, how often to look again")
    outbox_lease_s: float = Field(default=60.0, gt=0, description="how long a sent item is held for its resp")
    # Operator links (client role): read from the entities table; the outbound queue feeds them.
    links_refresh_interval_s: float = Field(default=60.0, gt=0, description="re-read OperatorLink entities")
    outbound_pollers_count: int = Field(default=4, ge=1, le=16, description="concurrent SQS long polls")
    outbound_receive_wait_s: int = Field(default=20, ge=0, le=20, description="SQS long-poll wait")
    outbound_visibility_s: int = Field(
        default=120, ge=1, le=43_200, description="a received submit is ours this long (> submit wait + resp)"
    )
    outbound_in_flight_max: int = Field(default=1000, ge=10, description="received, not yet finished")
    outbound_retry_backoff_base_s: int = Field(default=2, ge=0, description="not sent: visible again after")
    outbound_retry_backoff_max_s: int = Field(default=300, ge=1, le=43_200)
    outbound_answered_kept_max: int = Field(
        default=100_000, ge=0, description="(message, part) already answered: a duplicate is not resubmitted"
    )
    result_publish_attempts_max: int = Field(default=5, ge=1, le=20, description="then the submit is retried")
    io_threads_max: int = Field(default=16, ge=1, le=256, description="blocking AWS calls of the client side")
    mo_redelivery_window_s: int = Field(
        default=600, ge=1, description="an identical id-less MO within this is a redelivery, not a new MO"
    )


class PartnerDeliveryLimits(_Group):
    """Calling partners' handlers (MO delivery) and status callbacks."""

    request_timeout_s: float = Field(default=10.0, gt=0, le=60)  # connect + send + read, in total
    response_body_bytes_max: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    reply_chars_max: int = Field(default=1530, gt=0)  # 10 GSM 7-bit segments
    attempts_max: int = Field(default=8, ge=1, le=50)  # the first attempt included
    retry_backoff_base_s: float = Field(default=5.0, gt=0)
    retry_backoff_max_s: float = Field(default=900.0, gt=0, le=900)  # SQS DelaySeconds maximum
    signature_tolerance_s: int = Field(default=300, ge=1)
    undecided_retry_s: int = Field(default=2, ge=0, le=60, description="MO not decided yet: look again")


class SubscriptionLimits(_Group):
    """MT-subscriptions (docs/billing.md, "MT-subscriptions"). Shard count may only grow."""

    due_shards_count: int = Field(default=4, ge=1, le=100, description="gsi1 partitions of the due index")
    due_per_run_max: int = Field(default=2000, ge=1, description="charges claimed by one schedule run")
    due_page_size_max: int = Field(default=100, ge=1, le=1000, description="items per due-index query")
    unsent_per_run_max: int = Field(default=500, ge=1, description="claimed charges re-published per run")
    run_time_margin_s: float = Field(default=10.0, ge=0, description="stop before the timeout")


class OtpLimits(_Group):
    """The "password by SMS" ready service (docs/partner-api-otp.md)."""

    code_length_default: int = Field(default=6, ge=4, le=10)
    code_length_min: int = Field(default=4, ge=4, le=10)
    code_length_max: int = Field(default=10, ge=4, le=10)
    ttl_s_default: int = Field(default=300, ge=30)
    ttl_s_min: int = Field(default=30, ge=10)
    ttl_s_max: int = Field(default=3600, ge=30)
    verify_attempts_max: int = Field(default=5, ge=1, le=20)
    sends_per_msisdn_max: int = Field(default=5, ge=1, description="codes sent to one MSISDN per window")
    sends_window_s: int = Field(default=3600, ge=60)
    record_keep_s: int = Field(default=24 * 3600, ge=60, description="TTL of a code's record after expiry")


class SmsSendLimits(_Group):
    """Sending SMS from prepaid credits through the partner API (docs/partner-api.md, "Sending SMS")."""

    batch_messages_max: int = Field(default=100, ge=1, le=1000, description="messages in one batch request")
    credit_slots_count: int = Field(
        default=4, ge=1, le=64, description="credit blocks the API reserves from (capped by the ledger's)"
    )
    # Messages one partner may send through the API (docs/traffic/rate-limits-and-countries.md); the
    # admin may set other values per partner (PartnerSendLimits).
    partner_messages_per_s_max: int = Field(default=200, ge=1, description="per partner, fixed UTC second")
    partner_messages_per_min_max: int = Field(default=6000, ge=1, description="per partner, fixed UTC minute")


class HandlerTestLimits(_Group):
    """The test tool: emulated MOs to a partner's own service (docs/partner-api.md, "Testing ...")."""

    msisdn_default: str = Field(
        default="447700900000", pattern=r"^[1-9][0-9]{5,14}$", description="the sender when none is given"
    )
    log_keep_s: int = Field(default=7 * 86_400, ge=3600, description="a test MO stays in the test log")
    log_page_size_default: int = Field(default=20, ge=1, le=100)
    log_page_size_max: int = Field(default=50, ge=1, le=100, description="each entry is a few reads")


class ReportLimits(_Group):
    """Messages, statistics and statements in the partner API (docs/partner-api.md)."""

    page_size_default: int = Field(default=50, ge=1, description="capped by api.page_size_max")
    messages_examined_max: int = Field(
        default=2000, ge=10, description="index entries one filtered search may read before it pages"
    )
    statistics_days_max: int = Field(default=92, ge=1, le=400, description="days one report spans")
    statistics_shards_count: int = Field(
        default=4, ge=1, le=64, description="STAT# partitions per partner and month; may only grow"
    )
    statistics_marker_keep_s: int = Field(
        default=35 * 86_400, ge=7 * 86_400, description="a charge's STATMSG# marker (TTL): outlives its DLR"
    )
    cursor_signing_key: str = Field(
        default="smsbilling-partner-api-cursors", min_length=16, description="HMAC key of listing cursors"
    )


class PartnerAccountLimits(_Group):
    """Partner self-service: registration, API keys, services, prefixes (docs/partner-api.md)."""

    confirmation_token_ttl_s: int = Field(default=48 * 3600, ge=600, le=30 * 86_400)
    confirmation_url: str = Field(
        default="", max_length=500, description="the e-mailed link, '{token}' replaced; empty: no link"
    )
    notifier: Literal["log", "ses"] = Field(default="log", description="how confirmation e-mails go out")
    ses_from_address: str = Field(default="", max_length=254, description="notifier ses: the sender")
    registrations_per_ip_max: int = Field(default=10, ge=1, description="registrations + resends per window")
    registrations_window_s: int = Field(default=3600, ge=60)
    api_keys_per_partner_max: int = Field(default=20, ge=1, le=500, description="active keys")
    services_per_partner_max: int = Field(default=100, ge=1, le=5000)
    service_short_numbers_max: int = Field(default=20, ge=1, le=45, description="one transaction per change")
    reserved_prefixes: tuple[str, ...] = Field(
        default=("STOP", "HELP", "INFO", "START", "UNSUBSCRIBE", "CANCEL", "QUIT", "END", "СТОП", "ПОМОЩЬ"),
        description="kept by the platform, besides the admin's ReservedPrefix entities",
    )


class AdminLimits(_Group):
    """The admin API (docs/admin-api.md)."""

    page_size_default: int = Field(default=50, ge=1, description="capped by api.page_size_max")
    adjustment_amount_abs_max: int = Field(
        default=100_000_000, gt=0, description="minor units (or credits) one manual adjustment may move"
    )
    plan_start_skew_s: int = Field(
        default=300, ge=0, le=3600, description="a tariff plan may start or end this far in the past, no more"
    )
    fraud_limits_max: int = Field(
        default=50, ge=1, le=90, description="fraud limits at most (one count: at most 99 counters)"
    )


class RiskLimits(_Group):
    """The online risk score's levels (domain/risk.py, docs/traffic/risk-score.md); the admin sets
    weights and thresholds (RiskPolicy). A signal gives no points at or below ``*_normal`` and its
    full weight at ``*_high`` (linear between)."""

    range_suffix_digits: int = Field(
        default=2, ge=1, le=6, description="a number range is the MSISDN without its last N digits"
    )
    new_partner_days: int = Field(default=30, ge=1, le=365, description="a partner younger than this is new")
    subscriber_per_minute_normal: int = Field(default=3, ge=0)
    subscriber_per_minute_high: int = Field(default=10, ge=1)
    subscriber_per_hour_normal: int = Field(default=10, ge=0)
    subscriber_per_hour_high: int = Field(default=40, ge=1)
    range_per_minute_normal: int = Field(default=5, ge=0)
    range_per_minute_high: int = Field(default=20, ge=1)
    range_per_hour_normal: int = Field(default=20, ge=0)
    range_per_hour_high: int = Field(default=80, ge=1)
    mix_today_min: int = Field(default=50, ge=1, description="partner messages today before the mix counts")
    mix_baseline_min: int = Field(default=200, ge=1, description="earlier this month: the normal mix")
    mix_excess_normal_pct: int = Field(default=20, ge=0, le=100, description="share points above the normal")
    mix_excess_high_pct: int = Field(default=50, ge=1, le=100)
    otp_sent_min: int = Field(default=20, ge=1, description="partner OTP codes today before it counts")
    otp_verified_normal_pct: int = Field(default=50, ge=0, le=100, description="no points at or above")
    otp_verified_low_pct: int = Field(default=10, ge=0, le=100, description="full weight at or below")
    partner_counter_shards: int = Field(default=8, ge=1, le=64, description="per-partner counters: hot items")
    counters_keep_after_window_s: int = Field(
        default=2 * 86_400, ge=3600, description="last month's counters are the mix baseline on the 1st"
    )


class TrafficLimits(_Group):
    """Traffic control (docs/traffic-control.md): the platform's defaults; rules live in entities."""

    rules_cache_s: float = Field(default=30.0, ge=0, description="how long a processor caches the rules")
    exempt_purposes: tuple[str, ...] = Field(
        default=("notice", "default_reply"), description="MtPurpose values never checked"
    )
    held_text_chars_max: int = Field(default=480, ge=0, le=480, description="text shown to the reviewer")
    # Subscriber blacklists (logic/blacklists.py, docs/traffic/blacklists.md): one write per row, inside
    # API Gateway's 29 s; larger lists are imported in several files.
    blacklist_import_rows_max: int = Field(default=1000, ge=1, le=5000, description="rows of one CSV import")
    # Fraud limits and the MO flood limit (logic/fraud_limits.py, docs/traffic/fraud-limits.md).
    counter_hot_shards: int = Field(
        default=64, ge=1, le=256, description="items a platform/operator/short-number counter spreads over"
    )
    number_range_suffix_digits: int = Field(
        default=2, ge=1, le=6, description="number_range without a value: numbers alike but these digits"
    )
    mo_per_subscriber_per_minute_max: int = Field(default=20, ge=0, description="MO flood limit; 0: off")
    mo_per_subscriber_per_hour_max: int = Field(default=200, ge=0, description="MO flood limit; 0: off")
    mo_flood_action: Literal["alert", "hold", "reject"] = Field(default="reject")
    # Duplicates (logic/duplicates.py, docs/traffic/duplicates.md): the same content again within the window.
    duplicate_window_s: int = Field(
        default=300, ge=0, le=7 * 86_400, description="same sender, recipient and text within this; 0: off"
    )
    duplicate_action: Literal["alert", "hold", "reject"] = Field(default="reject")
    duplicate_mt_purposes: tuple[str, ...] = Field(
        default=("api",), description="MtPurpose values checked for duplicates (every routed MO is)"
    )
    # Anti-spam on MT texts (logic/spam.py, docs/traffic/anti-spam.md).
    spam_pattern_chars_max: int = Field(default=200, ge=16, le=1000, description="one rule's pattern")
    spam_regex_states_max: int = Field(
        default=2000, ge=100, le=20_000, description="a regex rule's program, repeats unrolled"
    )
    spam_text_chars_max: int = Field(default=2000, ge=160, description="of a text read for spam")
    spam_rules_max: int = Field(default=1000, ge=1, le=10_000, description="rules read per scope")
    # Alert records and staff notifications (adapters/dynamodb_alerts.py, docs/traffic/monitoring.md).
    alert_topic_arn: str = Field(
        default="",
        max_length=256,
        pattern=r"^(arn:[^:\s]+:sns:[^:\s]+:[0-9]*:[^:\s]+)?$",
        description="SNS topic new alerts are published to; empty: recorded and logged only",
    )
    risk: RiskLimits = RiskLimits()  # the online risk score (domain/risk.py)
    # HLR lookup before an MT is sent (logic/hlr.py, docs/traffic/hlr.md); per-partner switch hlr_check.
    hlr_url: str = Field(
        default="",
        max_length=500,
        pattern=r"^(https?://\S+)?$",
        description="HTTP HLR API: with '{msisdn}' a GET, else a JSON POST; empty: simulated (local) or off",
    )
    hlr_token: SecretStr = Field(default=SecretStr(""), description="sent as 'Bearer <token>'; never logged")
    hlr_timeout_s: float = Field(default=3.0, gt=0, le=10, description="one lookup, in total")
    hlr_response_bytes_max: int = Field(default=16 * 1024, ge=1024, le=256 * 1024)
    hlr_reachable_cache_s: int = Field(default=24 * 3600, ge=0, description="keep a 'reachable' answer")
    hlr_unreachable_cache_s: int = Field(default=6 * 3600, ge=0, description="keep an 'unreachable' answer")
    hlr_unknown_cache_s: int = Field(default=300, ge=0, description="keep an 'absent subscriber' answer")
    hlr_absent_is_unreachable: bool = Field(
        default=False, description="reject for a switched-off handset too (the SMSC would keep the SMS)"
    )
    hlr_skip_purposes: tuple[str, ...] = Field(
        default=("reply", "default_reply", "notice"), description="MtPurpose values never looked up"
    )
    hlr_failures_in_row_max: int = Field(
        default=5, ge=1, description="provider failures in a row: alert, and pause lookups"
    )
    hlr_pause_s: float = Field(default=30.0, ge=0, description="no lookups this long after those failures")
    hlr_simulated_unreachable_prefixes: tuple[str, ...] = Field(default=(), description="simulated provider")
    hlr_simulated_unreachable_suffixes: tuple[str, ...] = Field(default=("0404",), description="simulated")
    hlr_simulated_absent_suffixes: tuple[str, ...] = Field(default=("0410",), description="simulated")
    hlr_simulated_failing_suffixes: tuple[str, ...] = Field(default=("0503",), description="simulated")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SMSBILLING_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    stage: str = "local"
    tables: TableNames = TableNames()
    queues: QueueUrls = QueueUrls()
    api: ApiLimits = ApiLimits()
    messages: MessageLimits = MessageLimits()
    ledger: LedgerLimits = LedgerLimits()
    smpp: SmppLimits = SmppLimits()
    bridge: BridgeSettings = BridgeSettings()
    partner_delivery: PartnerDeliveryLimits = PartnerDeliveryLimits()
    subscriptions: SubscriptionLimits = SubscriptionLimits()
    otp: OtpLimits = OtpLimits()
    accounts: PartnerAccountLimits = PartnerAccountLimits()
    operator_mt: OperatorMtLimits = OperatorMtLimits()
    sms: SmsSendLimits = SmsSendLimits()
    handler_test: HandlerTestLimits = HandlerTestLimits()
    reports: ReportLimits = ReportLimits()
    admin: AdminLimits = AdminLimits()
    traffic: TrafficLimits = TrafficLimits()


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
