"""Ownership under RAGTASKS_API_KEY_ISOLATION: who a key is, and the filters and checks built on it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from ragtasks_core.api_keys import ANONYMOUS, owner_of, parse_api_keys, sees_everything
from ragtasks_core.documents import alerts, evaluations, kbs, sessions
from ragtasks_core.documents.indexes import CREATED_BY
from ragtasks_gateway import ownership
from ragtasks_gateway.alerts_alertmanager import AmAlert, to_alert
from ragtasks_gateway.models.alerts import AlertIn
from ragtasks_gateway.ownership import Caller

NOW = datetime(2030, 1, 1, tzinfo=UTC)
KEYS = parse_api_keys(["alice:tok-a:read+write", "bob:tok-b", "ops:tok-o:read+admin", "bare-token-1", "bare-2"])
ALICE, BOB, OPS, BARE1, BARE2 = KEYS


def test_a_named_key_owns_by_name_and_every_bare_token_as_one_anonymous_owner() -> None:
    assert [owner_of(k) for k in KEYS] == ["alice", "bob", "ops", ANONYMOUS, ANONYMOUS]
    assert BARE1.name == "key-4"  # what logs show; ownership does not follow the list's order
    # Only a listed admin scope sees everything: a key without a scope list has every scope,
    # but would otherwise make isolation a no-op for ``a:TOKEN,b:TOKEN``.
    assert [sees_everything(k) for k in KEYS] == [False, False, True, False, False]
    assert "admin" in BOB.scopes and "admin" in BARE1.scopes


def test_callers_are_confined_only_when_isolation_is_on_and_the_key_is_not_admin() -> None:
    assert Caller.of(ALICE, True) == Caller("alice", True, isolated=True)
    assert Caller.of(OPS, True) == Caller("ops", False, isolated=True)
    assert Caller.of(BARE2, True) == Caller(ANONYMOUS, True, isolated=True)
    assert Caller.of(ALICE, False) == Caller("alice", False)
    assert Caller.of(None, True) == Caller(ANONYMOUS, True, isolated=True)
    assert Caller.of(BARE2, True).name == "key-5" and Caller.of(ALICE, False).name == "alice"


def test_filters_keep_a_confined_caller_to_its_own_records() -> None:
    alice, admin, off = Caller("alice", True), Caller("ops", False), Caller("alice", False)
    assert ownership.visible(alice) == {CREATED_BY: "alice"}
    assert ownership.visible(admin) == ownership.visible(off) == {}
    assert ownership.scoped({"kb_id": "kb"}, alice) == {"kb_id": "kb", CREATED_BY: "alice"}
    assert ownership.scoped({"_id": "s"}, off) == {"_id": "s"}
    assert ownership.on_insert(off) == {CREATED_BY: "alice"}  # recorded with isolation off too


def test_checks_on_records_read() -> None:
    alice, bob, admin = Caller("alice", True), Caller("bob", True), Caller("ops", False)
    mine, legacy = {"_id": "x", CREATED_BY: "alice"}, {"_id": "y"}
    assert ownership.may_see(mine, alice) and not ownership.may_see(mine, bob) and ownership.may_see(mine, admin)
    assert not ownership.may_see(None, alice) and not ownership.may_see(None, admin)
    # A record from before ownership (or a system alert) is for admins only.
    assert not ownership.may_see(legacy, alice) and ownership.may_see(legacy, admin)
    # A write into a missing record creates it; into someone else's is refused.
    assert not ownership.foreign(None, bob) and ownership.foreign(mine, bob) and not ownership.foreign(mine, alice)
    assert not ownership.foreign(mine, admin)


def test_the_builders_record_the_creator() -> None:
    created = sessions.reserve_update(2, 10, NOW, owner="alice")["$setOnInsert"]
    assert created[CREATED_BY] == "alice" and CREATED_BY not in sessions.reserve_update(2, 10, NOW)["$setOnInsert"]
    assert kbs.claim_update(NOW, "bob") == {"$setOnInsert": {"created_at": NOW, "version": 0, CREATED_BY: "bob"}}
    assert kbs.owner_in({"_id": "kb", CREATED_BY: "bob"}) == "bob" and kbs.owner_in(None) is None
    doc = evaluations.new_evaluation("ev", "kb", sample_size=5, k=[1], seed=1, trigger="nightly", now=NOW, owner="bob")
    assert doc[CREATED_BY] == "bob"
    owned = [i.keys for i in (*evaluations.INDEXES, *alerts.INDEXES) if i.keys[0][0] == CREATED_BY]
    assert len(owned) == 2 and all(keys[1][0] == "created_at" for keys in owned)  # listings by owner: no scan


def test_the_alert_owner_is_the_raising_key_else_the_kbs_owner() -> None:
    assert alerts.kb_of({"kb_id": "docs", "rule": "empty_retrieval"}) == "docs"
    assert alerts.kb_of({"kb": "docs", "alertname": "RecallDrop"}) == "docs"
    assert alerts.kb_of({"task": "x"}) is None
    # A raising key wins without a lookup (db=None would fail on one); no KB, no key: no owner.
    assert alerts.owner_fields(None, {"kb_id": "docs"}, "alice") == {CREATED_BY: "alice"}  # type: ignore[arg-type]
    assert alerts.owner_fields(None, {"task": "x"}, None) == {}  # type: ignore[arg-type]


def test_alertmanager_alerts_carry_the_raising_key_beside_their_labels() -> None:
    labels = {f"l{i:02d}": "v" for i in range(40)} | {"ragtasks_created_by": "forged"}
    raw = {"status": "firing", "labels": labels, "annotations": {"summary": "告警"}}
    alert = to_alert(AmAlert.model_validate(raw), "prom")
    assert len(alert.labels) == 32 and alert.created_by == "prom"  # a label is only a label
    assert to_alert(AmAlert.model_validate(raw)).created_by is None


def test_a_caller_cannot_name_the_owner_of_an_alert_it_raises() -> None:
    with pytest.raises(ValidationError):
        AlertIn.model_validate({"title": "t", "created_by": "ops"})
