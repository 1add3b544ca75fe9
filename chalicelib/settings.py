"""Settings: what the environment says, read once by the composition root (`runtime.configure`)."""

from collections.abc import Mapping
from dataclasses import dataclass

# The look-ahead's horizon is one tick period plus this margin: it covers a tick that fires a few seconds late or
# takes a while, and a slot planned twice by overlapping horizons still fires once (its claim).
LOOK_AHEAD_MARGIN_SECONDS = 15.0
AWS_TICK_PERIOD_SECONDS = 60.0  # EventBridge's rate(1 minute)


def look_ahead_for(tick_period_seconds: float) -> float:
    """The look-ahead horizon of a tick that runs every `tick_period_seconds`."""
    return tick_period_seconds + LOOK_AHEAD_MARGIN_SECONDS


@dataclass(frozen=True)
class WebhookLimits:
    """Webhook deliveries allowed per minute: per public id, and per client address."""

    per_id: int = 30
    per_ip: int = 120


@dataclass(frozen=True)
class Settings:
    """Everything the environment may set, with the defaults of the local stack."""

    table_prefix: str = "routines-dev"
    region: str = "us-east-1"
    dynamodb_endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    public_base_url: str | None = None
    dispatch_queue_url: str | None = None
    dispatch_queue_name: str = "routines-dispatch"
    due_shards: int = 16
    tick_budget_triggers: int = 200
    tick_budget_seconds: float = 40.0
    # Slots due within this many seconds of a tick fire at their second through delayed delivery; 0 turns it off.
    look_ahead_seconds: float = look_ahead_for(AWS_TICK_PERIOD_SECONDS)
    log_level: str = "INFO"
    metrics_namespace: str = "Routines"
    emit_metrics: bool = False
    webhook_limits: WebhookLimits = WebhookLimits()
    issues_stream_arn: str = "arn:aws:dynamodb:us-east-1:000000000000:table/routines-dev-issues/stream/local"
    wake_allow_hosts: frozenset[str] = frozenset()
    run_retention_days: int | None = None
    # How long a process answers for an API key from memory: the bound on a revocation or termination made
    # by another process (the process that makes it forgets the key at once). 0 reads every time.
    key_cache_seconds: int = 30


def load_settings(env: Mapping[str, str]) -> Settings:
    """The settings an environment names; anything unset keeps its default."""
    default = Settings()
    limits = WebhookLimits(
        per_id=int(env.get("ROUTINES_WEBHOOK_RATE_PER_ID", default.webhook_limits.per_id)),
        per_ip=int(env.get("ROUTINES_WEBHOOK_RATE_PER_IP", default.webhook_limits.per_ip)),
    )
    return Settings(
        table_prefix=env.get("ROUTINES_TABLE_PREFIX", default.table_prefix),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or default.region,
        dynamodb_endpoint=env.get("ROUTINES_DYNAMODB_ENDPOINT") or None,
        access_key_id=env.get("ROUTINES_DYNAMODB_ACCESS_KEY_ID") or None,
        secret_access_key=env.get("ROUTINES_DYNAMODB_SECRET_ACCESS_KEY") or None,
        public_base_url=env.get("ROUTINES_PUBLIC_URL") or None,
        dispatch_queue_url=env.get("ROUTINES_DISPATCH_QUEUE_URL") or None,
        dispatch_queue_name=env.get("ROUTINES_DISPATCH_QUEUE_NAME", default.dispatch_queue_name),
        due_shards=int(env.get("ROUTINES_DUE_SHARDS", default.due_shards)),
        tick_budget_triggers=int(env.get("ROUTINES_TICK_BUDGET_TRIGGERS", default.tick_budget_triggers)),
        tick_budget_seconds=float(env.get("ROUTINES_TICK_BUDGET_SECONDS", default.tick_budget_seconds)),
        look_ahead_seconds=_look_ahead(env.get("ROUTINES_LOOK_AHEAD_SECONDS", ""), default.look_ahead_seconds),
        log_level=env.get("ROUTINES_LOG_LEVEL", default.log_level),
        metrics_namespace=env.get("ROUTINES_METRICS_NAMESPACE", default.metrics_namespace),
        emit_metrics=bool(env.get("AWS_LAMBDA_FUNCTION_NAME")) or env.get("ROUTINES_EMF") == "1",
        webhook_limits=limits,
        issues_stream_arn=env.get("ROUTINES_ISSUES_STREAM_ARN") or default.issues_stream_arn,
        wake_allow_hosts=_hosts(env.get("ROUTINES_WAKE_ALLOW_HOSTS", "")),
        run_retention_days=_days(env.get("ROUTINES_RUN_RETENTION_DAYS", "")),
        key_cache_seconds=int(env.get("ROUTINES_KEY_CACHE_SECONDS", default.key_cache_seconds)),
    )


def _look_ahead(given: str, default: float) -> float:
    """`ROUTINES_LOOK_AHEAD_SECONDS`: the horizon in seconds, 0 turns look-ahead off, unset keeps `default`."""
    if not given.strip():
        return default
    seconds = float(given)
    if seconds < 0:
        raise ValueError(f"ROUTINES_LOOK_AHEAD_SECONDS must be 0 (off) or more, not {given}")
    return seconds


def _days(given: str) -> int | None:
    """`ROUTINES_RUN_RETENTION_DAYS`: a whole number of days of at least 1, or unset (or 0): keep runs forever."""
    days = int(given) if given.strip() else 0
    if days < 0:
        raise ValueError(f"ROUTINES_RUN_RETENTION_DAYS must be 0 (off) or more, not {given}")
    return days or None


def _hosts(listed: str) -> frozenset[str]:
    """`ROUTINES_WAKE_ALLOW_HOSTS`: comma-separated host names or addresses a wake may reach though private."""
    return frozenset(host.strip().lower() for host in listed.split(",") if host.strip())
