"""Retrieval events: the RAG app reports each retrieval; empty ones feed the alert rule, and the
distinct queries are sampled into each KB's review list (``GET /v1/kbs/{kb_id}/queries?source=events``)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from ragtasks_core import metrics
from ragtasks_core.alerting.labels import OTHER
from ragtasks_core.alerting.rules import rule_from
from ragtasks_core.contract import TaskName

from .. import limits, ownership
from ..deps import CallerDep, DbDep, PublisherDep, SettingsDep, require_api_key
from ..models.retrieval_events import KbWindow, RetrievalEvents, RetrievalEventsAccepted
from ..query_sampler import QuerySampler
from ..retrieval_detect import kb_label_for, observe, undo, windows_for
from ..safe_body import SafeJsonRoute
from ..stores import kbs as kbs_store

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/v1/retrieval-events", tags=["alerts"], dependencies=[Depends(require_api_key)], route_class=SafeJsonRoute
)


@router.post("", response_model=RetrievalEventsAccepted, status_code=status.HTTP_202_ACCEPTED)
async def report(
    body: RetrievalEvents,
    request: Request,
    settings: SettingsDep,
    publisher: PublisherDep,
    db: DbDep,
    caller: CallerDep,
) -> RetrievalEventsAccepted:
    limit = settings.max_retrieval_events_per_request
    if len(body.events) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"at most {limit} events per request, got {len(body.events)}"
        )
    limits.require_total("the queries", sum(len(e.query) for e in body.events), limits.query_chars(settings))
    kb_label = kb_label_for(request.app)  # callers choose kb_id: the label's values are bounded
    for event in body.events:
        label = kb_label(event.kb_id)
        metrics.RETRIEVAL_EVENTS.labels(label, "empty" if event.n_results == 0 else "nonempty").inc()
        if event.latency_ms is not None:
            metrics.RETRIEVAL_LATENCY.labels(label).observe(event.latency_ms / 1000)
    windows = windows_for(request.app)
    rule = rule_from(settings)
    sums, transitions = await run_in_threadpool(
        observe, windows, rule, [(e.kb_id, e.n_results == 0) for e in body.events]
    )
    for kb, counts in sums.items():
        if (label := kb_label(kb)) != OTHER:  # one ratio for many KBs would mean nothing
            metrics.RETRIEVAL_EMPTY_RATIO.labels(label).set(counts.ratio)
    # The review list of real queries (GET /v1/kbs/{kb_id}/queries?source=events), off the request path.
    sampler: QuerySampler = request.app.state.query_sampler
    shown, sampled = await _rights(db, {e.kb_id for e in body.events}, caller)
    queued = sampler.submit([(e.kb_id, e.query, e.n_results == 0) for e in body.events if e.kb_id in sampled])
    alerts = []
    firing = {kb: c.firing for kb, c in sums.items()}
    for transition in transitions:
        try:
            # Through the outbox: a broker outage delays the alert, it does not lose it.
            await publisher.publish_reliably(TaskName.RAISE_ALERT, transition.alert, db=db)
        except Exception:  # noqa: BLE001 - Mongo refused the outbox record
            # Counted, but the alert was not recorded anywhere: the next batch fires it again.
            await run_in_threadpool(undo, windows, transition)
            log.warning("could not publish the %s alert of KB %s", transition.action, transition.kb_id)
            continue
        firing[transition.kb_id] = transition.action == "fire"
        if transition.kb_id in shown:
            alerts.append({"kb_id": transition.kb_id, "status": transition.alert.status})
    return RetrievalEventsAccepted(
        accepted=len(body.events),
        kbs=[
            KbWindow(kb_id=kb, window_events=c.total, window_empty=c.empty, firing=firing[kb])
            for kb, c in sums.items()
            if kb in shown
        ],
        alerts=alerts,
        queries_queued=queued,
    )


async def _rights(db: DbDep, kb_ids: set[str], caller: CallerDep) -> tuple[set[str], set[str]]:
    """(KBs whose numbers the answer shows, KBs whose queries are sampled): all of them unless
    the caller is confined, else one read of the KBs' owners (``ownership.event_rights``)."""
    if not caller.confined:
        return kb_ids, kb_ids
    return ownership.event_rights(kb_ids, await kbs_store.owners(db, sorted(kb_ids)), caller)
