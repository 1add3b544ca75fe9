"""Settings from the environment: the one place that reads it (the store's table models need it at import)."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    table_prefix: str
    region: str
    dynamodb_endpoint: str | None
    access_key_id: str | None
    secret_access_key: str | None
    public_base_url: str | None
    dispatch_queue_url: str | None
    dispatch_queue_name: str
    due_shards: int
    tick_budget_triggers: int
    tick_budget_seconds: float
    log_level: str
    metrics_namespace: str
    emit_metrics: bool
    webhook_rate_per_id: int
    webhook_rate_per_ip: int


def load_settings() -> Settings:
    env = os.environ
    return Settings(
        table_prefix=env.get("ROUTINES_TABLE_PREFIX", "routines-dev"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        dynamodb_endpoint=env.get("ROUTINES_DYNAMODB_ENDPOINT") or None,
        access_key_id=env.get("ROUTINES_DYNAMODB_ACCESS_KEY_ID") or None,
        secret_access_key=env.get("ROUTINES_DYNAMODB_SECRET_ACCESS_KEY") or None,
        public_base_url=env.get("ROUTINES_PUBLIC_URL") or None,
        dispatch_queue_url=env.get("ROUTINES_DISPATCH_QUEUE_URL") or None,
        dispatch_queue_name=env.get("ROUTINES_DISPATCH_QUEUE_NAME", "routines-dispatch"),
        due_shards=int(env.get("ROUTINES_DUE_SHARDS", "16")),
        tick_budget_triggers=int(env.get("ROUTINES_TICK_BUDGET_TRIGGERS", "200")),
        tick_budget_seconds=float(env.get("ROUTINES_TICK_BUDGET_SECONDS", "40")),
        log_level=env.get("ROUTINES_LOG_LEVEL", "INFO"),
        metrics_namespace=env.get("ROUTINES_METRICS_NAMESPACE", "Routines"),
        webhook_rate_per_id=int(env.get("ROUTINES_WEBHOOK_RATE_PER_ID", "30")),
        webhook_rate_per_ip=int(env.get("ROUTINES_WEBHOOK_RATE_PER_IP", "120")),
        emit_metrics=bool(env.get("AWS_LAMBDA_FUNCTION_NAME")) or env.get("ROUTINES_EMF") == "1",
    )


SETTINGS = load_settings()
