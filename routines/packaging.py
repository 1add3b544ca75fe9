"""`routines package`: a stage's deployable SAM template and deployment.zip, built offline by `chalice package`.

Chalice generates the functions, their roles, the API and the schedule. The merge template built here adds what
Chalice cannot know: the tables (from the pynamodb models, the single schema source), the dispatch queue and its
dead-letter queue, least-privilege policies, alarms, the operator's dashboard, and the environment that points the
functions at them.
Only the standard library is imported at module level: the `routines` parser loads this module on every command.
"""

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]

# Logical ids Chalice gives the functions of app.py, and the role it makes for each (autogen_policy is off).
API, TICK, DISPATCH, WAKE = "APIHandler", "Tick", "Dispatch", "Wake"
ROLES = {API: "ApiHandlerRole", TICK: "TickRole", DISPATCH: "DispatchRole", WAKE: "WakeRole"}
# Where the tick, dispatcher and wake functions run on AWS, in place of Chalice's `app.<name>`: a module each
# that imports neither app.py nor the API (chalicelib/lambdas/), for a shorter cold start.
HANDLERS = {function: f"chalicelib.lambdas.{function.lower()}.handler" for function in (TICK, DISPATCH, WAKE)}
# The event source mapping Chalice generates for app.py's `on_dynamodb_record(name="wake")`.
WAKE_EVENT = "WakeDynamodbEventSource"

# TransactWriteItems has no IAM action of its own: every item in it needs its Put/Update/Delete/ConditionCheck.
ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
]
INDEX_ACTIONS = ["dynamodb:Query"]
DIRECTORY_SCAN = ["dynamodb:Scan"]  # store.directory.list_companies: all companies, for all-companies board keys
QUEUE_CONSUME_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]

API_THROTTLING = {"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100}
# What API Gateway answers itself, in the API's error shape. app.py routes every path and method to the handler
# (a `/{proxy+}` resource and each path's missing methods), so these are a backstop: no message of API
# Gateway's that can echo a request's `Authorization` header (its answer to a SigV4-looking header on an
# unmatched route) is passed on.
_NOT_FOUND = {"StatusCode": "404", "ResponseTemplates": {"application/json": '{"error": "Not found"}'}}
GATEWAY_RESPONSES = {
    "x-amazon-apigateway-gateway-responses": {
        "MISSING_AUTHENTICATION_TOKEN": _NOT_FOUND,
        "INCOMPLETE_SIGNATURE": _NOT_FOUND,
        "INVALID_SIGNATURE": _NOT_FOUND,
        "DEFAULT_4XX": {"ResponseTemplates": {"application/json": '{"error": $context.error.messageString}'}},
        "DEFAULT_5XX": {"ResponseTemplates": {"application/json": '{"error": $context.error.messageString}'}},
    }
}
TICK_BUDGET_SECONDS = 40  # the tick's Lambda timeout in .chalice/config.json must exceed it
MAX_RECEIVES = 5
TICK_LAG_LIMIT_SECONDS = 300
# A failing wake batch is retried, in order per shard, this many times or for this long, then dead-lettered.
WAKE_RETRIES = 50
WAKE_MAX_RECORD_AGE_SECONDS = 6 * 3600
WAKE_ITERATOR_AGE_LIMIT_MS = 120_000
STREAM_READ_ACTIONS = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
]


@dataclass(frozen=True)
class Stage:
    """A Chalice stage as deployed: the names of its resources follow from the stage name."""

    name: str
    project_dir: Path

    @property
    def prefix(self) -> str:
        return f"routines-{self.name}"

    @property
    def queue_name(self) -> str:
        return f"{self.prefix}-dispatch"

    @property
    def protected(self) -> bool:
        return self.name == "prod"

    @property
    def metrics_namespace(self) -> str:
        return f"Routines/{self.name}"

    def chalice_config(self, function: str) -> Any:
        """Chalice's own view of `.chalice/config.json` for one function of this stage."""
        from chalice.config import Config

        on_disk = json.loads((self.project_dir / ".chalice" / "config.json").read_text())
        if self.name not in on_disk.get("stages", {}):
            raise SystemExit(f"No stage {self.name!r} in .chalice/config.json")
        return Config(chalice_stage=self.name, function_name=function, config_from_disk=on_disk)


def merge_template(stage: Stage) -> Json:
    """Everything `chalice package` does not generate, to be deep-merged into its SAM template."""
    tables = table_resources(stage)
    return {
        "Resources": {
            **tables,
            **queue_resources(stage),
            **policy_resources(tables),
            **alarm_resources(stage),
            **dashboard_resources(stage),
            **function_overrides(stage),
            **wake_resources(stage),
        },
        "Outputs": outputs(stage),
    }


def tables() -> dict[str, Any]:
    """The pynamodb model of each table, by the table's name without its prefix (`runs`, `api-keys`...)."""
    from chalicelib.store.tables import ALL_TABLES, name_of

    return {name_of(model): model for model in ALL_TABLES}


def table_resources(stage: Stage) -> Json:
    """One table per pynamodb model, with the keys and indexes the model declares."""
    retention = "Retain" if stage.protected else "Delete"
    return {
        table_id(name): {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": retention,
            "UpdateReplacePolicy": retention,
            "Properties": _table_properties(stage, name, model),
        }
        for name, model in tables().items()
    }


def _table_properties(stage: Stage, name: str, model: Any) -> Json:
    from chalicelib.store.tables import TTL_ATTRIBUTES

    # pynamodb's own create_table schema: the local stack and the tests create their tables from it too.
    schema = model._get_schema()
    properties: Json = {
        "TableName": f"{stage.prefix}-{name}",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": _unique(schema["attribute_definitions"]),
        "KeySchema": _hash_first(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "DeletionProtectionEnabled": stage.protected,
    }
    if schema["global_secondary_indexes"]:
        properties["GlobalSecondaryIndexes"] = [_index(index) for index in schema["global_secondary_indexes"]]
    if schema["local_secondary_indexes"]:
        properties["LocalSecondaryIndexes"] = [_index(index) for index in schema["local_secondary_indexes"]]
    if model in TTL_ATTRIBUTES:
        properties["TimeToLiveSpecification"] = {"AttributeName": TTL_ATTRIBUTES[model], "Enabled": True}
    if getattr(model.Meta, "stream_view_type", None):
        properties["StreamSpecification"] = {"StreamViewType": model.Meta.stream_view_type}
    return properties


def table_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-")) + "Table"


def _index(index: Any) -> Json:
    return {
        "IndexName": index["index_name"],
        "KeySchema": _hash_first(index["key_schema"]),
        "Projection": index["projection"],
    }


def _hash_first(key_schema: Any) -> list[Json]:
    return sorted((dict(key) for key in key_schema), key=lambda key: key["KeyType"] != "HASH")


def _unique(definitions: Any) -> list[Json]:
    by_name = {definition["AttributeName"]: dict(definition) for definition in definitions}
    return list(by_name.values())


def queue_resources(stage: Stage) -> Json:
    # Lambda wants the visibility timeout at least the dispatcher's timeout; AWS advises six times.
    visibility = 6 * int(stage.chalice_config("dispatch").lambda_timeout)
    return {
        "DispatchDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": f"{stage.queue_name}-dlq",
                "MessageRetentionPeriod": 14 * 24 * 3600,
                "SqsManagedSseEnabled": True,
            },
        },
        "DispatchQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": stage.queue_name,
                "VisibilityTimeout": visibility,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["DispatchDeadLetterQueue", "Arn"]},
                    "maxReceiveCount": MAX_RECEIVES,
                },
            },
        },
    }


def policy_resources(tables: Json) -> Json:
    """Separate policies on Chalice's roles: merging into a role's `Policies` list would replace its logs policy."""
    table_arns = [{"Fn::GetAtt": [table, "Arn"]} for table in tables]
    index_arns = [
        {"Fn::Sub": f"${{{table}.Arn}}/index/*"}
        for table, resource in tables.items()
        if "GlobalSecondaryIndexes" in resource["Properties"] or "LocalSecondaryIndexes" in resource["Properties"]
    ]
    queue_arn = {"Fn::GetAtt": ["DispatchQueue", "Arn"]}
    return {
        "TablesPolicy": _policy(
            "routines-tables",
            list(ROLES.values()),
            _statement("Items", ITEM_ACTIONS, table_arns),
            _statement("IndexQueries", INDEX_ACTIONS, index_arns),
            _statement("CompanyListing", DIRECTORY_SCAN, [{"Fn::GetAtt": [table_id("directory"), "Arn"]}]),
        ),
        "DispatchQueueSendPolicy": _policy(
            "routines-dispatch-send", [ROLES[TICK]], _statement("SendBatches", ["sqs:SendMessage"], [queue_arn])
        ),
        "DispatchQueueConsumePolicy": _policy(
            "routines-dispatch-consume",
            [ROLES[DISPATCH]],
            _statement("ConsumeBatches", QUEUE_CONSUME_ACTIONS, [queue_arn]),
        ),
        # A look-ahead batch delivered early (a redrive from the dead-letter queue) goes back to wait for its slot.
        "DispatchQueueRedelayPolicy": _policy(
            "routines-dispatch-redelay",
            [ROLES[DISPATCH]],
            _statement("RedelayEarlyBatches", ["sqs:SendMessage"], [queue_arn]),
        ),
    }


def _policy(name: str, roles: list[str], *statements: Json) -> Json:
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": name,
            "Roles": [{"Ref": role} for role in roles],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
        },
    }


def _statement(sid: str, actions: list[str], resources: list[Any]) -> Json:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


@dataclass(frozen=True)
class Alarm:
    name: str
    description: str
    namespace: str
    metric: str
    statistic: str
    threshold: float
    dimensions: Json = field(default_factory=dict)
    period: int = 300
    periods: int = 1
    datapoints: int = 1
    comparison: str = "GreaterThanOrEqualToThreshold"
    missing: str = "notBreaching"


def alarms(stage: Stage) -> dict[str, Alarm]:
    """What an operator is paged for (README: Runbook)."""
    from chalicelib.observability import Metric

    return {
        "TickErrorsAlarm": Alarm(
            "tick-errors",
            "The tick function failed in 3 of the last 5 minutes.",
            "AWS/Lambda",
            "Errors",
            "Sum",
            1,
            {"FunctionName": {"Ref": TICK}},
            period=60,
            periods=5,
            datapoints=3,
        ),
        "TickLagAlarm": Alarm(
            "tick-lag",
            f"A due trigger waited over {TICK_LAG_LIMIT_SECONDS} s, or the tick reported nothing (not running).",
            stage.metrics_namespace,
            Metric.TICK_LAG_SECONDS,
            "Maximum",
            TICK_LAG_LIMIT_SECONDS,
            period=60,
            periods=3,
            datapoints=2,
            comparison="GreaterThanThreshold",
            missing="breaching",
        ),
        "DispatchErrorsAlarm": Alarm(
            "dispatch-errors",
            "Triggers failed to dispatch, in the tick or the dispatcher: their logs name the triggers.",
            stage.metrics_namespace,
            Metric.DISPATCH_ERRORS,
            "Sum",
            1,
        ),
        "DispatcherErrorsAlarm": Alarm(
            "dispatcher-errors",
            "The SQS dispatcher function failed; SQS redelivers the batch.",
            "AWS/Lambda",
            "Errors",
            "Sum",
            1,
            {"FunctionName": {"Ref": DISPATCH}},
        ),
        "DeadLetterQueueAlarm": Alarm(
            "dispatch-dead-letters",
            f"Batches failed {MAX_RECEIVES} times and wait in the dead-letter queue.",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
            0,
            {"QueueName": {"Fn::GetAtt": ["DispatchDeadLetterQueue", "QueueName"]}},
            comparison="GreaterThanThreshold",
        ),
        "Api5xxAlarm": Alarm(
            "api-5xx",
            "The API answered 5xx at least 5 times in 5 minutes.",
            "AWS/ApiGateway",
            "5XXError",
            "Sum",
            5,
            {"ApiName": stage.prefix, "Stage": _api_stage(stage)},
        ),
    }


def alarm_resources(stage: Stage) -> Json:
    """Every alarm notifies the stage's alarm topic, and again when it is back to OK."""
    topic = [{"Ref": "AlarmTopic"}]
    resources: Json = {"AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"{stage.prefix}-alarms"}}}
    for logical_id, alarm in {**alarms(stage), **wake_alarms(stage)}.items():
        resources[logical_id] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": f"{stage.prefix}-{alarm.name}",
                "AlarmDescription": alarm.description,
                "Namespace": alarm.namespace,
                "MetricName": alarm.metric,
                "Dimensions": [{"Name": key, "Value": value} for key, value in alarm.dimensions.items()],
                "Statistic": alarm.statistic,
                "Period": alarm.period,
                "EvaluationPeriods": alarm.periods,
                "DatapointsToAlarm": alarm.datapoints,
                "Threshold": alarm.threshold,
                "ComparisonOperator": alarm.comparison,
                "TreatMissingData": alarm.missing,
                "AlarmActions": topic,
                "OKActions": topic,
            },
        }
    return resources


def dashboard_resources(stage: Stage) -> Json:
    """The stage's CloudWatch dashboard (`routines-<stage>`); `${...}` names are resolved by Fn::Sub."""
    body = json.dumps({"widgets": dashboard_widgets(stage)}, separators=(",", ":"))
    return {
        "Dashboard": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {"DashboardName": stage.prefix, "DashboardBody": {"Fn::Sub": body}},
        }
    }


def dashboard_widgets(stage: Stage) -> list[Json]:
    """Every metric of `observability.Metric`, the queue and API Gateway metrics, and the alarms' states."""
    ours = _Ours(stage.metrics_namespace)
    alarm_arns = [f"${{{alarm}.Arn}}" for alarm in {**alarms(stage), **wake_alarms(stage)}]
    return [
        *_tick_widgets(ours),
        *_run_widgets(ours),
        *_api_widgets(ours, ["ApiName", stage.prefix, "Stage", _api_stage(stage)]),
        _queue_widget(stage.queue_name),
        *_wake_widgets(ours),
        {"type": "alarm", "width": 24, "height": 4, "properties": {"title": "Alarms", "alarms": alarm_arns}},
    ]


def _tick_widgets(ours: "_Ours") -> list[Json]:
    from chalicelib.observability import Metric

    per_tick = (Metric.DUE_TRIGGERS, Metric.QUEUED_TRIGGERS, Metric.DELAYED_TRIGGERS, Metric.DISPATCHED_TRIGGERS)
    return [
        _graph("Tick lag (s)", [ours.line(Metric.TICK_LAG_SECONDS, stat) for stat in ("p50", "Maximum")]),
        _graph("Tick duration (s)", [ours.line(Metric.TICK_DURATION_SECONDS, stat) for stat in ("p50", "Maximum")]),
        _graph(
            "Triggers per tick: due, queued, sent ahead to their second, dispatched from the queue",
            [ours.line(m, "Sum") for m in per_tick],
        ),
    ]


def _run_widgets(ours: "_Ours") -> list[Json]:
    from chalicelib.domain.models import RunSource, RunStatus
    from chalicelib.observability import Metric

    runs, dimensions = Metric.RUNS_DISPATCHED, ("Source", "Status")
    losses = (Metric.SLOTS_DROPPED, Metric.DISPATCH_ERRORS)
    # What a firing is written with: `received` is never stored, `completed` follows later and is not counted.
    statuses = tuple(status for status in RunStatus if status not in (RunStatus.received, RunStatus.completed))
    return [
        _graph("Runs by source", ours.sums(runs, dimensions, "Source", tuple(RunSource))),
        _graph("Runs by status", ours.sums(runs, dimensions, "Status", statuses)),
        _graph("Dropped slots, dispatch errors", [ours.line(metric, "Sum") for metric in losses]),
    ]


def _api_widgets(ours: "_Ours", api: list[str]) -> list[Json]:
    from chalicelib.observability import Metric

    gateway_5xx = ["AWS/ApiGateway", "5XXError", *api, {"stat": "Sum", "label": "API Gateway 5XXError"}]
    latency = [ours.search(Metric.API_LATENCY_SECONDS, ("RouteGroup",), stat) for stat in ("p50", "p99")]
    return [
        _graph("Webhook deliveries by answer", [ours.search(Metric.WEBHOOK_DELIVERIES, ("Answer",), "Sum")]),
        _graph("Webhook rejections by reason", [ours.search(Metric.WEBHOOK_REJECTED, ("Reason",), "Sum")]),
        _graph("API latency by route group (s): p50, p99", latency),
        _graph("API 5xx by route group", [ours.search(Metric.API_SERVER_ERRORS, ("RouteGroup",), "Sum"), gateway_5xx]),
    ]


def _queue_widget(queue: str) -> Json:
    def depth(name: str, label: str) -> list[Any]:
        return ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name, {"stat": "Maximum", "label": label}]

    oldest = [
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "QueueName",
        queue,
        {"stat": "Maximum", "label": "oldest (s)"},
    ]
    return _graph("Dispatch queue", [depth(queue, "queued batches"), oldest, depth(f"{queue}-dlq", "dead letters")])


def _wake_widgets(ours: "_Ours") -> list[Json]:
    from chalicelib.observability import Metric

    outcomes = [ours.line(metric, "Sum") for metric in (Metric.WAKES_DELIVERED, Metric.WAKES_FAILED)]
    return [
        _graph("Wake-ups: delivered, failed", outcomes),
        _graph("Wake lag (s): p50, Maximum", [ours.line(Metric.WAKE_LAG_SECONDS, stat) for stat in ("p50", "Maximum")]),
    ]


@dataclass(frozen=True)
class _Ours:
    """Graph lines of the metrics the code emits, in the stage's namespace."""

    namespace: str

    def line(self, metric: str, stat: str) -> list[Any]:
        return [self.namespace, str(metric), {"stat": stat, "label": f"{metric} {stat}"}]

    def search(self, metric: str, dimensions: tuple[str, ...], stat: str, where: str = "") -> str:
        """Every series of `metric` over its dimensions (a line per value seen)."""
        schema = ",".join((self.namespace, *dimensions))
        return f"SEARCH('{{{schema}}} MetricName=\"{metric}\"{where}', '{stat}', 60)"

    def sums(self, metric: str, dimensions: tuple[str, ...], name: str, values: tuple[str, ...]) -> list[Json]:
        """One line per value of a dimension, summed over the others."""
        return [
            {"expression": "SUM(" + self.search(metric, dimensions, "Sum", f' {name}="{value}"') + ")", "label": value}
            for value in values
        ]


def _graph(title: str, lines: list[Any]) -> Json:
    """A time series widget; a SEARCH line labels each series by its dimension values."""
    metrics = [{"expression": line} if isinstance(line, str) else line for line in lines]
    for number, line in enumerate(metrics):
        if isinstance(line, dict):
            line["id"] = f"e{number}"
    properties = {"title": title, "region": "${AWS::Region}", "view": "timeSeries", "period": 60, "metrics": metrics}
    return {"type": "metric", "width": 12, "height": 6, "properties": properties}


def function_overrides(stage: Stage) -> Json:
    """The functions' environment, the tick rule's name, API throttling and the API's name (its metrics key)."""
    environment = {"Environment": {"Variables": function_environment(stage)}}
    return {
        API: {"Properties": environment},
        TICK: {
            "Properties": {
                **environment,
                "Handler": HANDLERS[TICK],
                "Events": {"TickEvent": {"Properties": {"Name": f"{stage.prefix}-tick"}}},
            }
        },
        # Creating the event source mapping checks the role's SQS permissions (the queue is a Ref already).
        DISPATCH: {
            "DependsOn": ["DispatchQueueConsumePolicy"],
            "Properties": {**environment, "Handler": HANDLERS[DISPATCH]},
        },
        "RestAPI": {
            "Properties": {
                "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", **API_THROTTLING}],
                "DefinitionBody": {"info": {"title": stage.prefix}, **GATEWAY_RESPONSES},
            }
        },
    }


def function_environment(stage: Stage) -> Json:
    return {
        "ROUTINES_TABLE_PREFIX": stage.prefix,
        "ROUTINES_DISPATCH_QUEUE_URL": {"Ref": "DispatchQueue"},
        "ROUTINES_DISPATCH_QUEUE_NAME": stage.queue_name,
        "ROUTINES_METRICS_NAMESPACE": stage.metrics_namespace,
        "ROUTINES_TICK_BUDGET_SECONDS": str(TICK_BUDGET_SECONDS),
    }


def wake_resources(stage: Stage) -> Json:
    """The wake function reads the issues stream: its mapping's retries and dead-letter queue, and its rights."""
    dlq_arn = {"Fn::GetAtt": ["WakeDeadLetterQueue", "Arn"]}
    stream_arn = {"Fn::GetAtt": [table_id("issues"), "StreamArn"]}
    mapping = {
        "Stream": stream_arn,
        "StartingPosition": "TRIM_HORIZON",
        "MaximumRetryAttempts": WAKE_RETRIES,
        "MaximumRecordAgeInSeconds": WAKE_MAX_RECORD_AGE_SECONDS,
        "BisectBatchOnFunctionError": True,
        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": dlq_arn}},
    }
    environment = {"Environment": {"Variables": function_environment(stage)}}
    return {
        "WakeDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": f"{stage.prefix}-wake-dlq",
                "MessageRetentionPeriod": 14 * 24 * 3600,
                "SqsManagedSseEnabled": True,
            },
        },
        "WakeStreamPolicy": _policy(
            "routines-wake-stream",
            [ROLES[WAKE]],
            _statement("ReadIssuesStream", STREAM_READ_ACTIONS, [stream_arn]),
            _statement("DeadLetterFailedBatches", ["sqs:SendMessage"], [dlq_arn]),
        ),
        # Creating the event source mapping checks the role's stream permissions.
        WAKE: {
            "DependsOn": ["WakeStreamPolicy"],
            "Properties": {**environment, "Handler": HANDLERS[WAKE], "Events": {WAKE_EVENT: {"Properties": mapping}}},
        },
    }


def wake_alarms(stage: Stage) -> dict[str, Alarm]:
    """Wakes that fail, wait, or were given up on (README: Wake-ups)."""
    from chalicelib.observability import Metric

    return {
        "WakesFailedAlarm": Alarm(
            "wakes-failed",
            "Wake-ups failed at least 5 times in 5 minutes: GET /issues/{id}/wakes names the error.",
            stage.metrics_namespace,
            Metric.WAKES_FAILED,
            "Sum",
            5,
        ),
        "WakeIteratorAgeAlarm": Alarm(
            "wake-iterator-age",
            f"The wake function is over {WAKE_ITERATOR_AGE_LIMIT_MS // 1000} s behind the issues stream.",
            "AWS/Lambda",
            "IteratorAge",
            "Maximum",
            WAKE_ITERATOR_AGE_LIMIT_MS,
            {"FunctionName": {"Ref": WAKE}},
            period=60,
            periods=5,
            datapoints=3,
        ),
        "WakeDeadLetterAlarm": Alarm(
            "wake-dead-letters",
            f"Wake batches failed {WAKE_RETRIES} retries (or aged out) and wait in the wake dead-letter queue.",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
            0,
            {"QueueName": {"Fn::GetAtt": ["WakeDeadLetterQueue", "QueueName"]}},
            comparison="GreaterThanThreshold",
        ),
    }


def outputs(stage: Stage) -> Json:
    api_url = f"https://${{RestAPI}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{_api_stage(stage)}/api"
    return {
        "ApiUrl": {"Description": "Base URL of the API (paths under /api)", "Value": {"Fn::Sub": api_url}},
        "TablePrefix": {"Description": "ROUTINES_TABLE_PREFIX for `routines admin`", "Value": stage.prefix},
        "TickRuleName": {"Description": "EventBridge rule of the tick", "Value": f"{stage.prefix}-tick"},
        "TickFunctionName": {"Value": {"Ref": TICK}},
        "DispatchFunctionName": {"Value": {"Ref": DISPATCH}},
        "DispatchQueueUrl": {"Value": {"Ref": "DispatchQueue"}},
        "DeadLetterQueueUrl": {"Value": {"Ref": "DispatchDeadLetterQueue"}},
        "AlarmTopicArn": {"Description": "Subscribe to be notified of alarms", "Value": {"Ref": "AlarmTopic"}},
    }


def _api_stage(stage: Stage) -> str:
    return str(stage.chalice_config(API).api_gateway_stage)


def package(stage: Stage, out_dir: Path) -> Path:
    """Runs `chalice package` with the merge template; returns the path of the merged SAM template."""
    out_dir.mkdir(parents=True, exist_ok=True)
    merge = out_dir / f"merge-{stage.name}.json"
    merge.write_text(json.dumps(merge_template(stage), indent=2) + "\n")
    # app.py names the dispatcher's queue from the environment when Chalice imports it.
    env = {**os.environ, "ROUTINES_DISPATCH_QUEUE_NAME": stage.queue_name}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # any region: the template uses AWS::Region
    chalice = Path(sys.executable).with_name("chalice")
    command = [str(chalice), "--project-dir", str(stage.project_dir), "package", "--stage", stage.name]
    subprocess.run([*command, "--merge-template", str(merge), str(out_dir)], check=True, env=env)
    template = out_dir / "sam.json"
    packaged = json.loads(template.read_text())
    _check_dispatch_queue(packaged, stage)
    _check_handlers(packaged)
    add_bytecode(out_dir / "deployment.zip", _runtime(packaged))
    return template


def _runtime(template: Json) -> str:
    """The functions' one Python runtime, e.g. `python3.11`."""
    runtimes = {
        resource["Properties"]["Runtime"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    if len(runtimes) != 1:
        raise SystemExit(f"The functions do not share one runtime: {sorted(runtimes)}")
    return str(runtimes.pop())


def add_bytecode(zip_path: Path, runtime: str) -> int:
    """Adds every module's bytecode to the deployment zip; returns how many modules it compiled.

    `chalice package` ships sources only, and a Lambda function's code directory is read-only, so without this
    every cold start compiles botocore, pynamodb and our code again (measured on the packaged zip: `import app`
    took about twice the CPU time without bytecode). The bytecode is hash-based and unchecked, so it holds
    whatever the zip does to file times; it must come from the runtime's Python version, or Lambda ignores it.
    """
    import compileall
    import py_compile
    import tempfile
    import zipfile

    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if ours != runtime:
        raise SystemExit(f"Package with {runtime}, the functions' runtime (this is {ours}): its bytecode differs")
    rebuilt = zip_path.with_suffix(".tmp")
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(zip_path) as packaged:
        # Bytecode Chalice copied from a local __pycache__ is dropped: it checks file times, and would be a duplicate.
        kept = [entry for entry in packaged.infolist() if not entry.filename.endswith(".pyc")]
        packaged.extractall(scratch, [entry.filename for entry in kept if entry.filename.endswith(".py")])
        unchecked = py_compile.PycInvalidationMode.UNCHECKED_HASH
        compileall.compile_dir(scratch, quiet=2, invalidation_mode=unchecked, workers=0)
        compiled = sorted(Path(scratch).rglob("*.pyc"))
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry in kept:
                archive.writestr(entry, packaged.read(entry))
            for path in compiled:
                pyc = zipfile.ZipInfo(path.relative_to(scratch).as_posix(), date_time=(2000, 1, 1, 0, 0, 0))
                pyc.external_attr = 0o644 << 16
                pyc.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(pyc, path.read_bytes())
    rebuilt.replace(zip_path)
    return len(compiled)


def _check_dispatch_queue(template: Json, stage: Stage) -> None:
    events = template["Resources"][DISPATCH]["Properties"]["Events"].values()
    queues = [event["Properties"]["Queue"] for event in events if event["Type"] == "SQS"]
    arns = [queue["Fn::Sub"] if isinstance(queue, dict) else queue for queue in queues]
    if not any(arn.endswith(f":{stage.queue_name}") for arn in arns):
        raise SystemExit(f"The dispatcher does not read {stage.queue_name}: {arns}")


def _check_handlers(template: Json) -> None:
    """The merge took: no function but the API's imports app.py on AWS."""
    handlers = {function: template["Resources"][function]["Properties"]["Handler"] for function in HANDLERS}
    if handlers != HANDLERS:
        raise SystemExit(f"The tick, dispatcher and wake functions do not run in chalicelib.lambdas: {handlers}")


def add_command(commands: Any) -> None:
    """The `routines package` subcommand."""
    parser = commands.add_parser(
        "package",
        help="build a stage's SAM template and deployment.zip (offline: needs no AWS credentials)",
    )
    parser.add_argument("--stage", default="dev", help="Chalice stage in .chalice/config.json (dev)")
    parser.add_argument("--out", type=Path, default=Path("dist"), help="output directory (dist)")
    parser.set_defaults(handler=_package)


def _package(args: argparse.Namespace) -> None:
    template = package(Stage(args.stage, Path.cwd()), args.out)
    print(f"{template} and {template.with_name('deployment.zip')}: stage {args.stage}")
