"""Tonight's plan: every KB is maintained; the KBs to evaluate get a deterministic evaluation id."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pymongo.database import Database

from ragtasks_core.documents import kbs
from ragtasks_core.documents.evaluations import new_evaluation
from ragtasks_core.settings import Settings

from . import logic, store

log = logging.getLogger(__name__)


def nightly_evaluation_id(kb_id: str, day: str) -> str:
    return f"nightly-{day}-{kb_id}"[:128]


def nightly_plan(existing: Sequence[str], wanted: Sequence[str], day: str) -> dict[str, str | None]:
    """Every existing KB is maintained; those in ``wanted`` get tonight's evaluation id (else None)."""
    for kb_id in sorted(set(wanted) - set(existing)):
        log.warning("nightly: knowledge base %r does not exist; not evaluated", kb_id)
    return {kb_id: nightly_evaluation_id(kb_id, day) if kb_id in wanted else None for kb_id in sorted(existing)}


def create_nightly_evaluation(
    db: Database, kb_id: str, evaluation_id: str, *, settings: Settings, maintenance_error: Exception | None = None
) -> bool:
    """Tonight's evaluation of one KB (created once: a re-run of nightly creates nothing new)."""
    doc = new_evaluation(
        evaluation_id,
        kb_id,
        sample_size=settings.eval_sample_size,
        k=logic.normalize_ks(settings.eval_k),
        seed=settings.eval_seed,
        trigger="nightly",
        now=store.now(),
        maintenance_error=maintenance_error,
        # A system record about the KB: its owner's (RAGTASKS_API_KEY_ISOLATION, docs/security.md).
        owner=kbs.owner_of(db, kb_id),
    )
    doc["questions_per_chunk"] = settings.eval_questions_per_chunk  # RAGTASKS_EVAL_QUESTIONS_PER_CHUNK
    return store.create_evaluation(db, doc)
