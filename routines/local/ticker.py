"""The local scheduler: a tick every few seconds, and a timer queue standing in for SQS's delayed delivery.

`TimerQueue.send_later` is the tick's look-ahead sender, as `SqsSender.send_later` is on AWS: each batch waits
in a heap until its slot, then goes to `scheduler.dispatch_delivery`, the function the dispatch Lambda calls.
"""

import heapq
import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

from chalicelib.domain.ids import IdFactory
from chalicelib.domain.timefmt import Clock, from_iso
from chalicelib.observability import log_exception
from chalicelib.services.scheduler import LookAhead, TickSummary, default_pool, dispatch_delivery, tick
from chalicelib.settings import look_ahead_for

# Batches due at the same second are delivered side by side, as Lambda runs one dispatcher per message: enough
# workers that a burst's batches (8 for 200 triggers) leave room for a slot due a few seconds later.
DELIVERY_WORKERS = 16


@dataclass(order=True)
class _Waiting:
    not_before: str
    order: int
    trigger_ids: list[str] = field(compare=False)


class TimerQueue:
    """Holds each batch until its slot on `clock`, then dispatches it on `pool`; `with` starts and stops it."""

    def __init__(self, pool: Executor, clock: Clock, new_id: IdFactory) -> None:
        self._pool, self._clock, self._new_id = pool, clock, new_id
        self._heap: list[_Waiting] = []
        self._held: Counter[str] = Counter()  # trigger ids waiting in the heap or being delivered
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._stopped = False
        self._deliveries = ThreadPoolExecutor(DELIVERY_WORKERS, thread_name_prefix="delivery")
        self._thread = threading.Thread(target=self._run, name="timers", daemon=True)

    def send_later(self, trigger_ids: list[str], not_before: str) -> None:
        with self._changed:
            heapq.heappush(self._heap, _Waiting(not_before, next(self._order), trigger_ids))
            self._held.update(trigger_ids)
            self._changed.notify()

    def holds(self, trigger_id: str) -> bool:
        """Whether a batch waiting or being delivered holds this trigger (`LookAhead.holds`)."""
        with self._changed:
            return self._held[trigger_id] > 0

    def __enter__(self) -> "TimerQueue":
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()
        self._thread.join()
        self._deliveries.shutdown(wait=True)

    def _run(self) -> None:
        while (waiting := self._next()) is not None:
            self._deliveries.submit(self._deliver, waiting)

    def _next(self) -> _Waiting | None:
        """The next batch whose slot has come, waiting for it; None once stopped."""
        with self._changed:
            while not self._stopped:
                wait = (from_iso(self._heap[0].not_before) - self._clock()).total_seconds() if self._heap else None
                if wait is not None and wait <= 0:
                    return heapq.heappop(self._heap)
                self._changed.wait(wait)
            return None

    def _deliver(self, waiting: _Waiting) -> None:
        try:
            dispatch_delivery(
                waiting.trigger_ids, waiting.not_before, self._clock, self._new_id, self._pool, self.send_later
            )
        except Exception:
            log_exception("delivery failed", notBefore=waiting.not_before, triggers=len(waiting.trigger_ids))
        finally:
            with self._changed:
                self._held.subtract(waiting.trigger_ids)
                self._held += Counter()  # drops the ids no batch holds any more


def tick_forever(
    stop: threading.Event,
    seconds: float,
    clock: Clock,
    new_id: IdFactory,
    look_ahead: bool = True,
    report: Callable[[TickSummary], None] = lambda summary: None,
) -> None:
    """Ticks every `seconds` until `stop`; with `look_ahead`, the slots due before the next tick (and a margin)
    fire at their second through a timer queue."""
    with default_pool() as pool, TimerQueue(pool, clock, new_id) as timers:
        ahead = LookAhead(look_ahead_for(seconds), timers.send_later, timers.holds) if look_ahead else None
        while not stop.wait(seconds):
            try:
                summary = tick(clock, new_id, pool, budget=10_000, look_ahead=ahead)
            except Exception:
                log_exception("tick failed")
                continue
            report(summary)


def print_summary(summary: TickSummary) -> None:
    if summary.due or summary.delayed:
        print(f"tick: {json.dumps(summary.as_dict())}", flush=True)
