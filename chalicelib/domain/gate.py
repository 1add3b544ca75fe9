"""The activity gate: a gated routine's schedule slot fires only after qualifying activity in its scope.

Qualifying activity is recorded per scope (the company, and the project) by the writes that make it: the
latest activity, whose routine's own work it was, and the latest activity that was no routine's own work.
"""

from dataclasses import dataclass

from chalicelib.domain.models import (
    ROUTINE_EXECUTION,
    ActivityGatePolicy,
    ActivityGateScope,
    Issue,
    Routine,
)

NO_EXTERNAL_ACTIVITY = "no_external_activity"


@dataclass(frozen=True)
class Activity:
    """One qualifying write: where and when, and which routine's own work it was (None: no routine's)."""

    company_id: str
    project_id: str | None
    at: str
    origin_routine_id: str | None = None


def activity_on(issue: Issue, actor_agent_id: str | None, at: str) -> Activity:
    """A write on an issue; on a routine's execution issue by the agent executing it, that routine's own work."""
    own = issue.origin_kind == ROUTINE_EXECUTION and actor_agent_id is not None
    own = own and actor_agent_id == issue.assignee_agent_id
    return Activity(issue.company_id, issue.project_id, at, issue.origin_id if own else None)


@dataclass(frozen=True)
class ScopeActivity:
    """What a scope recorded: the latest activity (`last_at`, of `last_origin`'s own work or of none) and the
    latest activity that was no routine's own work (`external_at`)."""

    last_at: str | None = None
    last_origin: str | None = None
    external_at: str | None = None

    def latest_besides(self, routine_id: str) -> str | None:
        """The latest activity that was not this routine's own work.

        When the routine's own work came last, only work of no routine is known to be later than
        other routines' work: the gate then stays closed rather than open on a guess.
        """
        known = [self.external_at]
        if self.last_origin != routine_id:
            known.append(self.last_at)
        return max((at for at in known if at), default=None)


@dataclass(frozen=True)
class GateVerdict:
    """Whether a gated slot fires, and the window it looked at (`window_start` None: never dispatched)."""

    opens: bool
    window_start: str | None = None

    def payload(self) -> dict[str, object]:
        """The quiet run's `triggerPayload`, as the reference records it."""
        verdict = {"verdict": "quiet", "windowStart": self.window_start, "matchedActivityId": None}
        return {"activityGate": verdict}


def is_gated(routine: Routine) -> bool:
    return routine.activity_gate_policy == ActivityGatePolicy.require_external_activity


def gate_verdict(routine: Routine, activity: ScopeActivity | None, now: str) -> GateVerdict:
    """Fires when the routine never dispatched, or activity that was not its own work came after its last
    dispatched run and by `now`; a project scope without a project never qualifies."""
    window = routine.last_dispatched_at
    if not is_gated(routine) or window is None:
        return GateVerdict(True, window)
    if routine.activity_gate_scope == ActivityGateScope.project and routine.project_id is None:
        return GateVerdict(False, window)
    latest = activity.latest_besides(routine.id) if activity else None
    return GateVerdict(latest is not None and window < latest <= now, window)


def scope_of(routine: Routine) -> str | None:
    """The project whose activity gates the routine, or None for the company's."""
    return routine.project_id if routine.activity_gate_scope == ActivityGateScope.project else None
