"""`routines status` and `routines runs`: the operator's view in the terminal, read through the services."""

import argparse
import contextlib
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import runtime
from chalicelib.domain.models import OPERATOR, Issue, Run, Trigger
from chalicelib.domain.timefmt import from_iso
from chalicelib.services.routines import RoutineDetail
from chalicelib.services.status import company_status, failing_webhooks, newest_runs
from routines.local.stack import read_dev_json

FOLLOW_PAGE = 100  # runs read per poll: more new runs than this between two polls are not all printed


def add_commands(commands: Any, connect: Callable[[Path | None], None]) -> None:
    """The `routines status` and `routines runs` subcommands; `connect` points the process at the tables."""
    status = commands.add_parser("status", help="a company's routines: triggers, next fires, last run, open issue")
    status.add_argument("company_id", nargs="?", help="the company (default: the local stack's demo company)")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")
    status.add_argument("--data-dir", type=Path, default=None, help="local stack (.routines)")
    status.set_defaults(handler=lambda args: _status(args, connect))
    runs = commands.add_parser("runs", help="a routine's run history, oldest first; --follow prints new runs")
    runs.add_argument("routine_id")
    runs.add_argument("--limit", type=positive, default=20, help="how many past runs to print (20)")
    runs.add_argument("--follow", action="store_true", help="keep printing new runs until Ctrl-C")
    runs.add_argument("--interval", type=float, default=2.0, help="seconds between polls with --follow (2)")
    runs.add_argument("--polls", type=positive, default=None, help=argparse.SUPPRESS)  # for tests: stop after N
    runs.add_argument("--data-dir", type=Path, default=None, help="local stack (.routines)")
    runs.set_defaults(handler=lambda args: _runs(args, connect))


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return int(text)


def _status(args: argparse.Namespace, connect: Callable[[Path | None], None]) -> int:
    connect(args.data_dir)
    company_id = args.company_id or (read_dev_json(args.data_dir or Path(".routines")) or {}).get("companyId")
    if not company_id:
        raise SystemExit("Name the company: routines status <companyId>")
    rows = status_rows(company_status(OPERATOR, company_id), runtime.now())
    print(json.dumps(rows, indent=2) if args.json else render_status(rows))
    return 0


def status_rows(states: list[RoutineDetail], now: datetime) -> list[dict[str, Any]]:
    """What `routines status --json` prints: one object per routine."""
    return [
        {
            "id": state.routine.id,
            "title": state.routine.title,
            "status": state.routine.status.value,
            "triggers": [_trigger_row(trigger) for trigger in state.triggers],
            "lastRun": _last_run_row(state.recent_runs[0].run if state.recent_runs else None, now),
            "openIssue": _issue_row(state.active_issue),
            "failingWebhookTriggerIds": [trigger.id for trigger in failing_webhooks(state)],
        }
        for state in states
    ]


def _issue_row(issue: Issue | None) -> dict[str, Any] | None:
    return {"id": issue.id, "identifier": issue.identifier, "status": issue.status.value} if issue else None


def _trigger_row(trigger: Trigger) -> dict[str, Any]:
    row: dict[str, Any] = {"id": trigger.id, "kind": trigger.kind.value, "label": trigger.label}
    row["enabled"] = trigger.enabled
    if trigger.schedule:
        next_utc = trigger.schedule.next_run_at
        local = from_iso(next_utc).astimezone(ZoneInfo(trigger.schedule.timezone)) if next_utc else None
        row["cronExpression"], row["timezone"] = trigger.schedule.cron_expression, trigger.schedule.timezone
        row["nextRunAt"], row["nextRunLocal"] = next_utc, local.isoformat() if local else None
    return row


def _last_run_row(run: Run | None, now: datetime) -> dict[str, Any] | None:
    if run is None:
        return None
    age = int((now - from_iso(run.triggered_at)).total_seconds())
    return {"id": run.id, "status": run.status.value, "source": run.source.value, "ageSeconds": age}


def render_status(rows: list[dict[str, Any]]) -> str:
    """The status table: a line per routine, then an indented line per trigger."""
    if not rows:
        return "No routines."
    lines = [f"{'ROUTINE':<40} {'STATUS':<8} {'LAST RUN':<28} OPEN ISSUE"]
    for row in rows:
        last = row["lastRun"]
        ran = f"{last['status']} {_age(last['ageSeconds'])} ago ({last['source']})" if last else "never"
        issue = f"{row['openIssue']['identifier']} {row['openIssue']['status']}" if row["openIssue"] else "-"
        lines.append(f"{row['title'][:40]:<40} {row['status']:<8} {ran:<28} {issue}")
        lines += [f"  {_trigger_line(trigger, row['failingWebhookTriggerIds'])}" for trigger in row["triggers"]]
    return "\n".join(lines)


def _trigger_line(trigger: dict[str, Any], failing: list[str]) -> str:
    name = f"{trigger['kind']} {trigger['label'] or trigger['id']}" + ("" if trigger["enabled"] else " (disabled)")
    if trigger["kind"] == "schedule":
        when = "not scheduled"
        if trigger["nextRunAt"]:
            when = f"next {trigger['nextRunLocal']} {trigger['timezone']} ({trigger['nextRunAt']})"
        return f"{name}: {trigger['cronExpression']}, {when}"
    return f"{name}: recent deliveries failed" if trigger["id"] in failing else name


def _age(seconds: int) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _runs(args: argparse.Namespace, connect: Callable[[Path | None], None]) -> int:
    connect(args.data_dir)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends --follow
        follow_runs(args.routine_id, args.limit, args.polls if args.follow else 0, lambda: time.sleep(args.interval))
    return 0


def follow_runs(routine_id: str, limit: int, polls: int | None, wait: Callable[[], None]) -> None:
    """Prints the last `limit` runs oldest first, then polls `polls` times (None: until interrupted),
    calling `wait` before each poll, and prints the runs that appeared (ids are time-ordered)."""
    shown = newest_runs(OPERATOR, routine_id, limit)
    _print_runs(shown)
    last = shown[0].id if shown else ""
    done = 0
    while polls is None or done < polls:
        wait()
        done += 1
        fresh = [run for run in newest_runs(OPERATOR, routine_id, FOLLOW_PAGE) if run.id > last]
        _print_runs(fresh)
        last = fresh[0].id if fresh else last


def _print_runs(newest_first: list[Run]) -> None:
    for run in reversed(newest_first):
        issue = f" issue {run.linked_issue_id}" if run.linked_issue_id else ""
        reason = f" ({run.failure_reason})" if run.failure_reason else ""
        print(f"{run.triggered_at}  {run.status.value:<13} {run.source.value:<8} {run.id}{issue}{reason}", flush=True)
