"""The `routines` command: dev, tick, status, runs, admin, cron, webhook, package."""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib import runtime
from chalicelib.domain.cron import describe, parse_schedule, preview
from chalicelib.domain.errors import DomainError, Invalid
from chalicelib.domain.models import OPERATOR
from chalicelib.domain.signing import sign_delivery
from chalicelib.domain.timefmt import from_iso, frozen_at, to_iso
from chalicelib.services import auth, directory
from chalicelib.services.scheduler import default_pool, tick
from chalicelib.settings import load_settings
from routines import overview, packaging
from routines.local.stack import attach, run_dev

DEFAULT_DATA_DIR = Path(".routines")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result = args.handler(args)
    except DomainError as error:  # an unknown id, a bad cron expression: the message says which
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `routines status | head`: the reader has what it wanted. Point stdout at nothing, so that the
        # interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(result or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="routines", description="Recurring work for AI agents.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    dev = commands.add_parser("dev", help="run the local stack: DynamoDB Local, the API and the tick")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state and dev.json (.routines)")
    dev.add_argument("--tick-seconds", type=float, default=15.0, help="seconds between ticks (15)")
    dev.add_argument("--no-tick", action="store_true", help="run no tick thread")
    dev.add_argument(
        "--workers",
        type=overview.positive,
        default=os.cpu_count() or 1,
        help="API processes sharing the port (the core count; 1 serves from this process)",
    )
    dev.set_defaults(handler=_dev)

    tick = commands.add_parser("tick", help="run one scheduler tick and print its summary")
    tick.add_argument("--now", type=_instant, help="the tick's time, ISO-8601 (default: the clock)")
    tick.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="local stack to tick (default: .routines, "
        "or the AWS tables named by ROUTINES_TABLE_PREFIX when it is set)",
    )
    tick.set_defaults(handler=_tick)

    cron = commands.add_parser("cron", help="explain a cron expression and list its next fire times")
    cron.add_argument("expression", help='5 fields, e.g. "0 9 * * MON"')
    cron.add_argument("--tz", default="UTC", help="IANA time zone (UTC)")
    cron.add_argument("--next", type=int, default=5, help="how many fire times to list (5)")
    cron.add_argument("--after", type=_instant, help="list fire times after this ISO-8601 instant (default: now)")
    cron.set_defaults(handler=_cron)

    overview.add_commands(commands, _connect)
    _add_webhook(commands)
    _add_admin(commands)
    packaging.add_command(commands)
    return parser


def _add_webhook(commands: Any) -> None:
    webhook = commands.add_parser("webhook", help="send signed webhook deliveries (for testing triggers)")
    webhook_commands = webhook.add_subparsers(required=True, metavar="ACTION")
    fire = webhook_commands.add_parser("fire", help="sign and send one delivery, print the response")
    fire.add_argument("url", help="the trigger's webhookUrl")
    fire.add_argument("--secret", required=True, help="the trigger's webhookSecret")
    fire.add_argument("--hmac", action="store_true", help="sign with hmac_sha256 (default: bearer)")
    fire.add_argument("--data", default="{}", help="JSON body ({})")
    fire.add_argument("--idempotency-key", help="Idempotency-Key header")
    fire.set_defaults(handler=_webhook_fire)


def _instant(text: str) -> datetime:
    """An ISO-8601 instant; without an offset it is UTC."""
    try:
        return from_iso(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant: {text!r}") from None


def _add_admin(commands: Any) -> None:
    admin = commands.add_parser(
        "admin",
        help="manage companies, agents and keys directly in the tables",
        description="Works on the local stack (--data-dir) or, when ROUTINES_TABLE_PREFIX and AWS "
        "credentials are set, on real DynamoDB.",
    )
    admin.add_argument("--data-dir", type=Path, default=None)
    actions = admin.add_subparsers(required=True, metavar="ACTION")
    company = actions.add_parser("create-company", help="create a company")
    company.add_argument("name")
    company.add_argument("--issue-prefix", help="issue identifier prefix, e.g. ACME")
    company.set_defaults(handler=_admin, action="create-company")
    agent = actions.add_parser("create-agent", help="create an agent in a company")
    agent.add_argument("company_id")
    agent.add_argument("name")
    agent.add_argument("--role")
    agent.set_defaults(handler=_admin, action="create-agent")
    key = actions.add_parser("create-key", help="create an API key for an agent (shown once)")
    key.add_argument("agent_id")
    key.add_argument("--label")
    key.set_defaults(handler=_admin, action="create-key")
    revoke = actions.add_parser("revoke-key", help="revoke an agent's API key at once")
    revoke.add_argument("agent_id")
    revoke.add_argument("key_id", help="the key's id, from create-key")
    revoke.set_defaults(handler=_admin, action="revoke-key")
    board = actions.add_parser("create-board-key", help="create a board key (shown once)")
    board.add_argument("--company", action="append", help="limit to this company (repeatable; default: all)")
    board.add_argument("--label")
    board.set_defaults(handler=_admin, action="create-board-key")
    listing = actions.add_parser("list", help="list companies and their agents and projects")
    listing.set_defaults(handler=_admin, action="list")


def _dev(args: argparse.Namespace) -> None:
    run_dev(args.host, args.port, args.data_dir, None if args.no_tick else args.tick_seconds, args.workers)


def _connect(data_dir: Path | None) -> None:
    """Points the process at the local stack, unless the environment names real tables."""
    if data_dir is None and os.environ.get("ROUTINES_TABLE_PREFIX"):
        runtime.configure(load_settings(os.environ))
    else:
        runtime.configure(attach(data_dir or DEFAULT_DATA_DIR).settings())


def _tick(args: argparse.Namespace) -> None:
    _connect(args.data_dir)
    now = args.now or runtime.now()
    with default_pool() as pool:
        summary = tick(frozen_at(args.now) if args.now else runtime.now, runtime.new_id, pool, budget=1_000_000)
    print(json.dumps({"now": to_iso(now), **summary.as_dict()}, indent=2))


def _cron(args: argparse.Namespace) -> int:
    try:
        schedule = parse_schedule(args.expression, args.tz)
    except Invalid as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(f"{schedule.expression} ({schedule.timezone}): {describe(schedule)}")
    times = preview(schedule, args.after or datetime.now(UTC), args.next)
    for fire in times:
        print(f"  {fire.local.isoformat()}  ({fire.utc.strftime('%Y-%m-%dT%H:%MZ')})")
    if len(times) < args.next:
        print("  (no fire time in the next five years)")
    return 0


def _webhook_fire(args: argparse.Namespace) -> int:
    body = args.data.encode()
    headers = {"Content-Type": "application/json"}
    if args.hmac:
        # Milliseconds: two sends of the same body within a second must not look like a replay.
        headers.update(sign_delivery(args.secret, body, int(time.time() * 1000)))
    else:
        headers["Authorization"] = f"Bearer {args.secret}"
    if args.idempotency_key:
        headers["Idempotency-Key"] = args.idempotency_key
    request = urllib.request.Request(args.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    print(status)
    print(text)
    return 0 if status < 400 else 1


def _admin(args: argparse.Namespace) -> None:
    _connect(args.data_dir)
    _print(_ADMIN[args.action](args, runtime.now()))


def _create_company(args: argparse.Namespace, now: datetime) -> Any:
    company = directory.create_company(OPERATOR, args.name, args.issue_prefix, now, runtime.new_id)
    return {"id": company.id, "name": company.name, "issuePrefix": company.issue_prefix}


def _create_agent(args: argparse.Namespace, now: datetime) -> Any:
    company = directory.get_company(OPERATOR, args.company_id)
    agent = directory.create_agent(company, args.name, args.role, now, runtime.new_id)
    return {"id": agent.id, "companyId": agent.company_id, "name": agent.name}


def _create_key(args: argparse.Namespace, now: datetime) -> Any:
    agent, key = directory.create_agent_key(OPERATOR, args.agent_id, args.label, now)
    return {"id": auth.key_id(key), "agentId": agent.id, "token": key}


def _revoke_key(args: argparse.Namespace, now: datetime) -> Any:
    directory.revoke_agent_key(OPERATOR, args.agent_id, args.key_id, now)
    return {"revoked": args.key_id, "agentId": args.agent_id}


def _create_board_key(args: argparse.Namespace, now: datetime) -> Any:
    companies = frozenset(args.company) if args.company else None
    token = directory.create_board_key(companies, args.label, now)
    return {"companies": sorted(companies) if companies else "all", "token": token}


def _list(args: argparse.Namespace, now: datetime) -> Any:
    return [
        {
            "id": company.id,
            "name": company.name,
            "issuePrefix": company.issue_prefix,
            "agents": [
                {"id": agent.id, "name": agent.name, "status": agent.status}
                for agent in directory.list_agents(OPERATOR, company.id)
            ],
            "projects": [
                {"id": project.id, "name": project.name} for project in directory.list_projects(OPERATOR, company.id)
            ],
        }
        for company in directory.list_companies(OPERATOR)
    ]


_ADMIN: dict[str, Callable[[argparse.Namespace, datetime], Any]] = {
    "create-company": _create_company,
    "create-agent": _create_agent,
    "create-key": _create_key,
    "revoke-key": _revoke_key,
    "create-board-key": _create_board_key,
    "list": _list,
}


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))


if __name__ == "__main__":
    sys.exit(main())
