"""The room's background worker: one re-plan at a time, the last good plan kept on failure.

:class:`ReplanWorker` queues a :class:`~watchfloor.services.operations.plans.Job`
per change of a situation, runs the plan builder on one thread, times it,
compares the new plan with the one in force, puts it in force, stores it and
tells the plan listeners (the dashboard's layer cache). A builder that raises
fails the job: its message is kept on the job and passed to ``on_failure``
(the room records it in the timeline). Imports the plans, situation, state
and store modules.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from watchfloor.errors import NotFoundError, WatchfloorError
from watchfloor.services.operations.plans import (
    Job,
    JsonDict,
    Plan,
    PlanBuilder,
    Timer,
    compare_plans,
)
from watchfloor.services.operations.situation import new_id
from watchfloor.services.operations.state import RoomState
from watchfloor.services.operations.store import OpsStore
from watchfloor.settings import Settings

__all__ = ["PlanListener", "ReplanWorker"]

log = logging.getLogger(__name__)

#: ``listener(region, plan)``, called in the worker when a plan comes into force.
PlanListener = Callable[[str, Plan], None]


class ReplanWorker:
    """Runs re-plan jobs one at a time and puts their plans in force.

    Parameters
    ----------
    settings
        Passed to the builder.
    state
        The room's memory: jobs are kept there, plans put in force there.
    builder
        Computes a plan body from a situation.
    clock
        Returns "now" (UTC).
    store
        Where jobs and plans are stored, or None.
    on_failure
        ``on_failure(job, message)`` after a job failed (the room logs it).
    """

    def __init__(
        self,
        settings: Settings,
        state: RoomState,
        *,
        builder: PlanBuilder,
        clock: Callable[[], datetime],
        store: OpsStore | None,
        on_failure: Callable[[Job, str], None],
    ) -> None:
        self.settings = settings
        self._state = state
        self._builder = builder
        self._clock = clock
        self._store = store
        self._on_failure = on_failure
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replan")
        self._listeners: list[PlanListener] = []
        self._lock = threading.Lock()

    def submit(self, region: str, trigger: str) -> Job:
        """Queue a re-plan of ``region`` (``trigger`` says why) and return its job."""
        job = Job(job_id=new_id(), region=region, trigger=trigger, submitted_at=self._clock())
        with self._state.lock:
            self._state.jobs[job.job_id] = job
        if self._store is not None:
            self._store.save_job(job)
        job.future = self._pool.submit(self._run, job)
        log.info("re-plan of %s queued: %s", region, trigger)
        return job

    def wait(self, job_id: str, *, timeout_s: float) -> JsonDict:
        """Block until a job has finished (or the timeout passes) and return it."""
        with self._state.lock:
            found = self._state.jobs.get(job_id)
        if found is None:
            msg = f"no re-plan job {job_id!r}"
            raise NotFoundError(msg)
        if found.future is not None:
            with contextlib.suppress(TimeoutError):
                found.future.result(timeout=timeout_s)
        return found.snapshot()

    def add_listener(self, listener: PlanListener) -> None:
        """Call ``listener(region, plan)`` each time a new plan comes into force."""
        with self._lock:
            self._listeners.append(listener)

    def close(self) -> None:
        """Stop after the running job; queued jobs are cancelled."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Job) -> None:
        timer = Timer()
        job.status, job.started_at = "running", self._clock()
        situation = self._state.situation(job.region)
        t0 = time.perf_counter()
        try:
            body = self._builder(self.settings, situation, self._clock(), timer)
        except WatchfloorError as exc:
            self._fail(job, timer, str(exc))
            return
        except Exception as exc:  # a solver crash must not take the room down
            log.exception("re-plan of %s failed", job.region)
            self._fail(job, timer, f"{type(exc).__name__}: {exc}")
            return
        timer.timings_s["total"] = time.perf_counter() - t0
        plan = Plan(
            plan_id=new_id(),
            region=job.region,
            created_at=self._clock(),
            trigger=job.trigger,
            timings_s=dict(timer.timings_s),
            body=body,
        )
        with self._state.lock:
            diff = compare_plans(self._state.plans.get(job.region), plan)
            self._state.put_plan(plan, diff)
        job.status, job.plan_id = "done", plan.plan_id
        job.finished_at, job.timings_s = self._clock(), dict(timer.timings_s)
        if self._store is not None:
            self._store.save_plan(plan, diff)
            self._store.save_job(job)
        log.info(
            "re-plan of %s done in %.2f s: %d sites risen, %d unit routes changed",
            job.region,
            plan.total_s,
            len(diff.risen),
            len(diff.changed_units),
        )
        self._tell_listeners(job.region, plan)

    def _tell_listeners(self, region: str, plan: Plan) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(region, plan)
            except Exception:  # a drawing cache must never undo a plan
                log.exception("plan listener failed for %s", region)

    def _fail(self, job: Job, timer: Timer, message: str) -> None:
        job.status, job.error = "failed", message
        job.finished_at, job.timings_s = self._clock(), dict(timer.timings_s)
        self._on_failure(job, message)
        if self._store is not None:
            self._store.save_job(job)
        log.warning("re-plan of %s failed; the last good plan stays in force", job.region)
