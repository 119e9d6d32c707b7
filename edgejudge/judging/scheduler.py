"""The scheduler: up to `slots` judgments in flight, each outcome as it finishes, and one
restart of a server that died under them.

It knows nothing of prompts or verdicts: it calls `attempt` on each item in a thread and
asks the runtime only what the `Runtime` protocol declares (`can_restart`, `restart`). An
attempt returns its outcome, a result or an `EdgeJudgeError`, instead of raising, so one bad
row never stops the others; a `ServerGoneError` outcome is how it learns the server died.
tests/test_judge_pipeline.py drives it on a scripted runtime that dies on cue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from edgejudge.errors import BrokenModelError, EdgeJudgeError, ServerError, ServerGoneError
from edgejudge.runtime.base import Runtime

Result = TypeVar("Result")


def as_completed(
    items: Iterable[Any],
    attempt: Callable[[Any], Result | EdgeJudgeError],
    *,
    slots: int,
    runtime: Runtime,
    cancel: Callable[[], None],
) -> Generator[tuple[int, Result | EdgeJudgeError], None, None]:
    """Run `attempt` on each item, `slots` at a time; yield `(index, outcome)` as each ends.

    If the server dies (an outcome is `ServerGoneError`) and the runtime can restart it, it
    is restarted once and the judgments that were in flight are tried again. If it dies
    again, or cannot be restarted, those become its error and then `ServerError` is raised:
    items not yet started are left for a rerun. A `BrokenModelError` outcome (the model
    computes NaN) is raised at once: no item could be judged. When the caller stops early
    (or `Cancelled` comes up) `cancel` stops the judgments in flight before the threads are
    joined.
    """
    jobs = enumerate(items)
    allowed = restarts = 1 if runtime.can_restart else 0
    retry: deque[tuple[int, Any]] = deque()
    flight: dict[Future[Result | EdgeJudgeError], tuple[int, Any]] = {}
    failure: ServerError | None = None
    pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="edgejudge")
    try:
        while True:
            while failure is None and len(flight) < slots:
                job = retry.popleft() if retry else next(jobs, None)
                if job is None:
                    break
                flight[pool.submit(attempt, job[1])] = job
            if not flight:
                break
            done, _ = wait(flight, return_when=FIRST_COMPLETED)
            lost: list[tuple[int, Any]] = []
            for future in done:
                job = flight.pop(future)
                outcome = future.result()
                if isinstance(outcome, BrokenModelError):
                    raise outcome  # no row can be judged: stop, leaving them for a rerun
                if isinstance(outcome, ServerGoneError) and failure is None and restarts:
                    lost.append(job)
                    continue
                if isinstance(outcome, ServerGoneError) and failure is None:
                    failure = outcome
                yield job[0], outcome
            if not lost:
                continue
            # The server is gone: the others in flight fail at once, or finish.
            for future, job in list(flight.items()):
                outcome = future.result()
                del flight[future]
                if isinstance(outcome, ServerGoneError):
                    lost.append(job)
                else:
                    yield job[0], outcome
            lost.sort(key=lambda job: job[0])
            restarts -= 1
            try:
                runtime.restart()
            except ServerError as exc:
                failure = exc
                for job in lost:
                    yield job[0], exc
                continue
            retry.extend(lost)
    finally:
        if flight:
            cancel()
        pool.shutdown(wait=True, cancel_futures=True)
    if failure is not None:
        why = (
            "the server failed again after a restart"
            if restarts < allowed
            else "edgejudge did not start this server, so it cannot restart it"
        )
        raise ServerError(
            f"{failure}; {why}; rows not judged yet are left for a rerun", failure.output
        )


Outcome = TypeVar("Outcome")


def in_order(
    outcomes: Generator[tuple[int, Outcome | EdgeJudgeError], None, None],
    return_exceptions: bool,
) -> Iterator[Outcome | EdgeJudgeError]:
    """Outcomes that arrive as `(index, outcome)` as they finish, in index order; the first
    error is raised unless `return_exceptions`. However the caller stops, `outcomes` is
    closed, so the judgments still in flight stop first."""
    waiting: dict[int, Outcome | EdgeJudgeError] = {}
    following = 0
    try:
        for index, outcome in outcomes:
            waiting[index] = outcome
            while following in waiting:
                ready = waiting.pop(following)
                following += 1
                if isinstance(ready, EdgeJudgeError) and not return_exceptions:
                    raise ready
                yield ready
    finally:
        outcomes.close()
