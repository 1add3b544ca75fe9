"""The merge template `routines package` gives `chalice package`, checked against the models and the config.

The real `chalice package` (20 s cold: it pip-downloads the Lambda wheels) and cfn-lint run in `make check-infra`;
these tests read the generator's output, so they take milliseconds.
"""

import importlib
from pathlib import Path
from typing import Any

import pytest
from pynamodb.attributes import Attribute
from pynamodb.models import Model

from chalicelib.observability import Metric
from chalicelib.store.tables import ALL_TABLES, TTL_ATTRIBUTES
from routines.packaging import (
    API,
    DISPATCH,
    HANDLERS,
    ROLES,
    TICK,
    WAKE,
    WAKE_EVENT,
    WAKE_RETRIES,
    Stage,
    merge_template,
    table_id,
    tables,
)

ROOT = Path(__file__).resolve().parents[2]
DYNAMODB_ACTIONS_THE_STORE_USES = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
    "dynamodb:Scan",
}


@pytest.fixture(scope="module")
def prod() -> dict[str, Any]:
    return dict(merge_template(Stage("prod", ROOT))["Resources"])


@pytest.fixture(scope="module")
def dev() -> dict[str, Any]:
    return dict(merge_template(Stage("dev", ROOT))["Resources"])


def keys(attributes: dict[str, Attribute[Any]]) -> list[dict[str, str]]:
    """A key schema read straight from pynamodb attributes, hash key first."""
    hash_key = [{"AttributeName": a.attr_name, "KeyType": "HASH"} for a in attributes.values() if a.is_hash_key]
    range_key = [{"AttributeName": a.attr_name, "KeyType": "RANGE"} for a in attributes.values() if a.is_range_key]
    return hash_key + range_key


def policy_actions(resource: dict[str, Any]) -> set[str]:
    return {
        action for statement in resource["Properties"]["PolicyDocument"]["Statement"] for action in statement["Action"]
    }


def test_every_model_has_a_table() -> None:
    assert sorted(tables().values(), key=ALL_TABLES.index) == list(ALL_TABLES)


@pytest.mark.parametrize(("name", "model"), tables().items(), ids=list(tables()))
def test_each_model_has_a_table_with_its_keys_and_indexes(prod: dict[str, Any], name: str, model: type[Model]) -> None:
    table = prod[table_id(name)]
    properties = table["Properties"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert properties["TableName"] == f"routines-prod-{name}"
    assert properties["KeySchema"] == keys(model.get_attributes())
    indexes = {index["IndexName"]: index for index in properties.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == set(model._indexes)
    for index_name, index in model._indexes.items():
        assert indexes[index_name]["KeySchema"] == keys(index.Meta.attributes)
        assert indexes[index_name]["Projection"]["ProjectionType"] == index.Meta.projection.projection_type
    key_names = {
        key["AttributeName"]
        for schema in [properties["KeySchema"], *[i["KeySchema"] for i in indexes.values()]]
        for key in schema
    }
    assert {definition["AttributeName"] for definition in properties["AttributeDefinitions"]} == key_names


def test_the_due_index_is_keys_only_on_shard_and_next_run(prod: dict[str, Any]) -> None:
    (due,) = [i for i in prod["TriggersTable"]["Properties"]["GlobalSecondaryIndexes"] if i["IndexName"] == "due"]
    assert due["KeySchema"] == [
        {"AttributeName": "dueShard", "KeyType": "HASH"},
        {"AttributeName": "nextRunAt", "KeyType": "RANGE"},
    ]
    assert due["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_every_table_is_on_demand_encrypted_and_recoverable(dev: dict[str, Any]) -> None:
    for name in tables():
        properties = dev[table_id(name)]["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert properties["SSESpecification"]["SSEEnabled"] is True


def test_claims_expire_through_ttl_on_expires_at(prod: dict[str, Any]) -> None:
    assert tables()["claims"] in TTL_ATTRIBUTES
    assert prod["ClaimsTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expiresAt",
        "Enabled": True,
    }


def test_runs_expire_through_ttl_on_expires_at_and_no_other_table_does(prod: dict[str, Any]) -> None:
    assert list(TTL_ATTRIBUTES) == [tables()["runs"], tables()["claims"]]
    assert prod["RunsTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expiresAt",
        "Enabled": True,
    }


def test_only_prod_tables_are_protected_from_deletion(prod: dict[str, Any], dev: dict[str, Any]) -> None:
    for name in tables():
        protected, disposable = prod[table_id(name)], dev[table_id(name)]
        assert protected["Properties"]["DeletionProtectionEnabled"] is True
        assert protected["DeletionPolicy"] == protected["UpdateReplacePolicy"] == "Retain"
        assert disposable["Properties"]["DeletionProtectionEnabled"] is False
        assert disposable["DeletionPolicy"] == "Delete"
        assert disposable["Properties"]["TableName"].startswith("routines-dev-")


def test_the_functions_may_use_exactly_the_dynamodb_actions_of_the_store(prod: dict[str, Any]) -> None:
    policy = prod["TablesPolicy"]
    assert policy["Type"] == "AWS::IAM::Policy"
    assert policy["Properties"]["Roles"] == [{"Ref": role} for role in ROLES.values()]
    assert policy_actions(policy) == DYNAMODB_ACTIONS_THE_STORE_USES
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert {arn["Fn::GetAtt"][0] for arn in statements["Items"]["Resource"]} == {table_id(name) for name in tables()}
    indexed = {table_id(name) for name, model in tables().items() if model._indexes}
    index_arns = {arn["Fn::Sub"] for arn in statements["IndexQueries"]["Resource"]}
    assert index_arns == {f"${{{table}.Arn}}/index/*" for table in indexed}
    assert statements["IndexQueries"]["Action"] == ["dynamodb:Query"]
    assert statements["CompanyListing"] == {
        "Sid": "CompanyListing",
        "Effect": "Allow",
        "Action": ["dynamodb:Scan"],
        "Resource": [{"Fn::GetAtt": ["DirectoryTable", "Arn"]}],
    }


def test_the_tick_sends_and_only_the_dispatcher_consumes_the_queue(prod: dict[str, Any]) -> None:
    send, consume = prod["DispatchQueueSendPolicy"]["Properties"], prod["DispatchQueueConsumePolicy"]["Properties"]
    assert send["Roles"] == [{"Ref": ROLES[TICK]}]
    assert policy_actions(prod["DispatchQueueSendPolicy"]) == {"sqs:SendMessage"}
    assert consume["Roles"] == [{"Ref": ROLES[DISPATCH]}]
    assert policy_actions(prod["DispatchQueueConsumePolicy"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    for policy in (send, consume):
        assert policy["PolicyDocument"]["Statement"][0]["Resource"] == [{"Fn::GetAtt": ["DispatchQueue", "Arn"]}]
    # Lambda checks the role can read the queue when it creates the event source mapping.
    assert prod[DISPATCH]["DependsOn"] == ["DispatchQueueConsumePolicy"]


def test_the_dispatcher_may_send_only_to_its_own_queue_to_redelay_an_early_batch(prod: dict[str, Any]) -> None:
    redelay = prod["DispatchQueueRedelayPolicy"]["Properties"]
    assert redelay["Roles"] == [{"Ref": ROLES[DISPATCH]}]
    assert policy_actions(prod["DispatchQueueRedelayPolicy"]) == {"sqs:SendMessage"}
    assert redelay["PolicyDocument"]["Statement"][0]["Resource"] == [{"Fn::GetAtt": ["DispatchQueue", "Arn"]}]


def test_failed_batches_go_to_the_dead_letter_queue_after_five_receives(prod: dict[str, Any]) -> None:
    queue = prod["DispatchQueue"]["Properties"]
    assert queue["QueueName"] == "routines-prod-dispatch"
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DispatchDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert prod["DispatchDeadLetterQueue"]["Properties"]["QueueName"] == "routines-prod-dispatch-dlq"
    dispatch_timeout = Stage("prod", ROOT).chalice_config("dispatch").lambda_timeout
    assert queue["VisibilityTimeout"] >= dispatch_timeout


def test_every_function_is_pointed_at_the_stage_tables_and_queue(prod: dict[str, Any]) -> None:
    for function in (API, TICK, DISPATCH):
        variables = prod[function]["Properties"]["Environment"]["Variables"]
        assert variables["ROUTINES_TABLE_PREFIX"] == "routines-prod"
        assert variables["ROUTINES_DISPATCH_QUEUE_URL"] == {"Ref": "DispatchQueue"}
        assert variables["ROUTINES_DISPATCH_QUEUE_NAME"] == prod["DispatchQueue"]["Properties"]["QueueName"]
        assert variables["ROUTINES_METRICS_NAMESPACE"] == prod["TickLagAlarm"]["Properties"]["Namespace"]


def test_the_tick_may_run_longer_than_its_budget(prod: dict[str, Any]) -> None:
    budget = float(prod[TICK]["Properties"]["Environment"]["Variables"]["ROUTINES_TICK_BUDGET_SECONDS"])
    assert Stage("prod", ROOT).chalice_config("tick").lambda_timeout > budget


@pytest.mark.parametrize(
    ("alarm", "namespace", "metric", "dimension"),
    [
        ("TickErrorsAlarm", "AWS/Lambda", "Errors", {"Name": "FunctionName", "Value": {"Ref": TICK}}),
        ("TickLagAlarm", "Routines/prod", "TickLagSeconds", None),
        ("DispatchErrorsAlarm", "Routines/prod", "DispatchErrors", None),
        ("DispatcherErrorsAlarm", "AWS/Lambda", "Errors", {"Name": "FunctionName", "Value": {"Ref": DISPATCH}}),
        (
            "DeadLetterQueueAlarm",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DispatchDeadLetterQueue", "QueueName"]}},
        ),
        ("Api5xxAlarm", "AWS/ApiGateway", "5XXError", {"Name": "ApiName", "Value": "routines-prod"}),
    ],
)
def test_each_alarm_watches_its_metric_and_notifies_the_topic(
    prod: dict[str, Any], alarm: str, namespace: str, metric: str, dimension: dict[str, Any] | None
) -> None:
    properties = prod[alarm]["Properties"]
    assert prod[alarm]["Type"] == "AWS::CloudWatch::Alarm"
    assert (properties["Namespace"], properties["MetricName"]) == (namespace, metric)
    assert properties["Dimensions"][:1] == ([dimension] if dimension else [])
    assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_every_alarm_on_our_namespace_watches_a_metric_we_emit(prod: dict[str, Any]) -> None:
    alarms = [resource["Properties"] for resource in prod.values() if resource.get("Type") == "AWS::CloudWatch::Alarm"]
    ours = [alarm["MetricName"] for alarm in alarms if alarm["Namespace"] == Stage("prod", ROOT).metrics_namespace]
    assert ours, "no alarm watches our namespace"
    assert [name for name in ours if name not in {metric.value for metric in Metric}] == []


def test_tick_lag_alarms_past_five_minutes_and_when_the_tick_is_silent(prod: dict[str, Any]) -> None:
    properties = prod["TickLagAlarm"]["Properties"]
    assert (properties["Threshold"], properties["ComparisonOperator"]) == (300, "GreaterThanThreshold")
    assert properties["TreatMissingData"] == "breaching"


def test_the_api_is_throttled_and_named_after_the_stage(prod: dict[str, Any]) -> None:
    properties = prod["RestAPI"]["Properties"]
    (settings,) = properties["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] >= settings["ThrottlingRateLimit"]
    # The 5xx alarm finds the API by this name.
    assert properties["DefinitionBody"]["info"]["title"] == prod["Api5xxAlarm"]["Properties"]["Dimensions"][0]["Value"]


def test_the_api_url_and_the_tick_rule_are_outputs() -> None:
    stage = Stage("prod", ROOT)
    template = merge_template(stage)
    api_stage = stage.chalice_config(API).api_gateway_stage
    assert template["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"].endswith(f"/{api_stage}/api")
    rule = template["Resources"][TICK]["Properties"]["Events"]["TickEvent"]["Properties"]["Name"]
    assert template["Outputs"]["TickRuleName"]["Value"] == rule == "routines-prod-tick"


def test_the_issues_table_streams_new_and_old_images(prod: dict[str, Any]) -> None:
    specification = prod[table_id("issues")]["Properties"]["StreamSpecification"]
    assert specification == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert [name for name in tables() if "StreamSpecification" in prod[table_id(name)]["Properties"]] == ["issues"]


def test_the_wake_function_reads_the_issues_stream_with_retries_and_a_dead_letter_queue(prod: dict[str, Any]) -> None:
    mapping = prod[WAKE]["Properties"]["Events"][WAKE_EVENT]["Properties"]
    assert mapping["Stream"] == {"Fn::GetAtt": [table_id("issues"), "StreamArn"]}
    assert mapping["MaximumRetryAttempts"] == WAKE_RETRIES and mapping["BisectBatchOnFunctionError"] is True
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["WakeDeadLetterQueue", "Arn"]}
    assert prod["WakeDeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
    policy = prod["WakeStreamPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": ROLES[WAKE]}]
    assert prod[WAKE]["DependsOn"] == ["WakeStreamPolicy"]
    actions = policy_actions(prod["WakeStreamPolicy"])
    assert {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "sqs:SendMessage"} <= actions


@pytest.mark.parametrize(
    ("alarm", "namespace", "metric"),
    [
        ("WakesFailedAlarm", "Routines/prod", "WakesFailed"),
        ("WakeIteratorAgeAlarm", "AWS/Lambda", "IteratorAge"),
        ("WakeDeadLetterAlarm", "AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    ],
)
def test_wake_alarms_notify_the_topic(prod: dict[str, Any], alarm: str, namespace: str, metric: str) -> None:
    properties = prod[alarm]["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (namespace, metric)
    assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_packaged_api_hands_every_unrouted_request_to_the_handler() -> None:
    """What `chalice package` puts in the API's DefinitionBody: a greedy resource and each known path's
    missing methods integrate with the API function, so API Gateway never answers an unmatched route itself."""
    from chalice.deploy.swagger import TemplatedSwaggerGenerator

    import app

    paths = TemplatedSwaggerGenerator().generate_swagger(app.app)["paths"]
    methods = {"get", "post", "put", "patch", "delete", "head", "options"}
    for path in ("/{proxy+}", "/", "/api/routines/{routineId}", "/api/health"):
        assert set(paths[path]) == methods, path
        for operation in paths[path].values():
            integration = operation["x-amazon-apigateway-integration"]
            assert integration["type"] == "aws_proxy"
            assert "api_handler_lambda_arn" in integration["uri"].variables


def test_api_gateway_answers_of_its_own_never_echo_the_request(prod: dict[str, Any]) -> None:
    responses = prod["RestAPI"]["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    for kind in ("MISSING_AUTHENTICATION_TOKEN", "INCOMPLETE_SIGNATURE", "INVALID_SIGNATURE"):
        assert responses[kind] == {
            "StatusCode": "404",
            "ResponseTemplates": {"application/json": '{"error": "Not found"}'},
        }
    assert all('{"error": ' in response["ResponseTemplates"]["application/json"] for response in responses.values())


@pytest.mark.parametrize(("function", "name"), [(TICK, "tick"), (DISPATCH, "dispatch"), (WAKE, "wake")])
def test_the_tick_dispatcher_and_wake_run_in_the_lambda_module(prod: dict[str, Any], function: str, name: str) -> None:
    handler = prod[function]["Properties"]["Handler"]
    assert handler == HANDLERS[function] == f"chalicelib.lambdas.{name}.handler"
    module, _, attribute = handler.rpartition(".")
    assert callable(getattr(importlib.import_module(module), attribute))
    assert "Handler" not in prod.get(API, {}).get("Properties", {})  # the API stays app.app
