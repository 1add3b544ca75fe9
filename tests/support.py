"""Builders for tests: a company with agents, keys and a project, and HTTP clients holding a key."""

from dataclasses import dataclass
from typing import Any

import requests

from chalicelib import runtime
from chalicelib.domain.models import OPERATOR, Principal
from chalicelib.services import auth, directory

SESSION = requests.Session()


def json_of(response: requests.Response, status: int = 200) -> Any:
    """The JSON body of a response that must have `status` (failing with its text otherwise)."""
    assert response.status_code == status, response.text
    return response.json()


@dataclass
class Client:
    """Calls the API with one key (or none)."""

    base: str
    key: str | None

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return {**headers, **(extra or {})}

    def request(self, method: str, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        headers = self._headers(kwargs.pop("headers", None))
        return SESSION.request(method, self.base + path, json=json, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@dataclass
class World:
    """A company with a project, two agents (Alpha, Bravo) and a board key, plus clients for each."""

    base: str
    company_id: str
    project_id: str
    alpha_id: str
    bravo_id: str
    board: Client
    alpha: Client
    bravo: Client
    anonymous: Client

    def routine(self, client: Client | None = None, **fields: Any) -> dict[str, Any]:
        """Creates a routine (assigned to Alpha unless told otherwise) and returns its JSON."""
        body = {
            "title": "Daily digest",
            "assigneeAgentId": self.alpha_id,
            "projectId": self.project_id,
            **fields,
        }
        return dict(json_of((client or self.board).post(f"/companies/{self.company_id}/routines", body), 201))

    def trigger(self, routine_id: str, **fields: Any) -> dict[str, Any]:
        return dict(json_of(self.board.post(f"/routines/{routine_id}/triggers", fields), 201))


def build_world(base: str, name: str = "Acme") -> World:
    now = runtime.now()
    company = directory.create_company(OPERATOR, name, None, now, runtime.new_id)
    project = directory.create_project(company, "Ops", None, now, runtime.new_id)
    alpha = directory.create_agent(company, "Alpha", None, now, runtime.new_id)
    bravo = directory.create_agent(company, "Bravo", None, now, runtime.new_id)
    board = directory.create_board_key(frozenset({company.id}), "test", now)
    keys = [
        auth.issue_key(
            Principal.for_agent(a.id, company.id),
            None,
            "2026-01-01T00:00:00.000Z",
        )
        for a in (alpha, bravo)
    ]
    return World(
        base,
        company.id,
        project.id,
        alpha.id,
        bravo.id,
        Client(base, board),
        Client(base, keys[0]),
        Client(base, keys[1]),
        Client(base, None),
    )
