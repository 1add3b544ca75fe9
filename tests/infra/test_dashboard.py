"""The stage's CloudWatch dashboard: rendered as CloudFormation would, then held against the metrics we emit."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.models import RunSource
from chalicelib.observability import Metric
from routines.packaging import Stage, merge_template

ROOT = Path(__file__).resolve().parents[2]
AWS_SERVICE_NAMESPACES = {"AWS/Lambda", "AWS/SQS", "AWS/ApiGateway"}
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
SEARCHED = re.compile(r"\{([^,}]+)[^}]*\} MetricName=\"(\w+)\"")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return merge_template(Stage("prod", ROOT))


@pytest.fixture(scope="module")
def body(template: dict[str, Any]) -> dict[str, Any]:
    """The dashboard body with each `${...}` substituted, as Fn::Sub does on deployment."""
    text = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return dict(json.loads(PLACEHOLDER.sub(lambda match: f"resolved:{match.group(1)}", text)))


def graphed(body: dict[str, Any]) -> set[tuple[str, str]]:
    """(namespace, metric name) of every line: plain metric arrays and SEARCH expressions."""
    found = set()
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            if isinstance(line, dict):
                found |= set(SEARCHED.findall(line["expression"]))
            else:
                found.add((line[0], line[1]))
    return found


def emitting_sources() -> str:
    return "\n".join(path.read_text() for path in [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")])


def test_the_dashboard_is_named_after_the_stage(template: dict[str, Any]) -> None:
    dashboard = template["Resources"]["Dashboard"]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    assert dashboard["Properties"]["DashboardName"] == "routines-prod"


def test_every_metric_we_emit_is_on_the_dashboard_and_every_graphed_one_is_ours_or_aws(body: dict[str, Any]) -> None:
    lines = graphed(body)
    ours = {name for namespace, name in lines if namespace == "Routines/prod"}
    assert ours == {metric.value for metric in Metric}
    assert {namespace for namespace, _ in lines} - {"Routines/prod"} <= AWS_SERVICE_NAMESPACES


def test_every_metric_name_is_emitted_by_the_code() -> None:
    sources = emitting_sources()
    assert [metric.name for metric in Metric if f"Metric.{metric.name}" not in sources] == []


def test_runs_are_graphed_by_every_source_and_every_status_a_firing_is_written_with(body: dict[str, Any]) -> None:
    labels = {
        widget["properties"]["title"]: [line["label"] for line in widget["properties"]["metrics"]]
        for widget in body["widgets"]
        if widget["properties"]["title"].startswith("Runs by")
    }
    assert labels == {
        "Runs by source": [source.value for source in RunSource],
        "Runs by status": ["coalesced", "skipped", "issue_created", "failed"],
    }


def test_the_alarm_widget_shows_every_alarm_of_the_template(template: dict[str, Any], body: dict[str, Any]) -> None:
    (widget,) = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    alarm_ids = [key for key, value in template["Resources"].items() if value.get("Type") == "AWS::CloudWatch::Alarm"]
    assert widget["properties"]["alarms"] == [f"resolved:{alarm}.Arn" for alarm in alarm_ids]


def test_every_substitution_names_a_resource_or_a_pseudo_parameter(template: dict[str, Any]) -> None:
    text = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = {name.split(".")[0] for name in PLACEHOLDER.findall(text)}
    assert names - set(template["Resources"]) == {"AWS::Region"}


def test_the_queue_widget_shows_the_stage_queue_and_its_dead_letters(body: dict[str, Any]) -> None:
    (widget,) = [widget for widget in body["widgets"] if widget["properties"].get("title") == "Dispatch queue"]
    queues = [line[3] for line in widget["properties"]["metrics"]]
    assert queues == ["routines-prod-dispatch", "routines-prod-dispatch", "routines-prod-dispatch-dlq"]
