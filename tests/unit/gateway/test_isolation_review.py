"""The review's fixes to RAGTASKS_API_KEY_ISOLATION: namespaced alert fingerprints, the admin
areas, which KBs a retrieval-events answer shows, and the sampler's shutdown."""

from __future__ import annotations

import asyncio

from ragtasks_core.alerting.rules import fingerprint as empty_retrieval_fingerprint
from ragtasks_core.api_keys import parse_api_keys
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.settings import Settings
from ragtasks_gateway import ownership
from ragtasks_gateway.deps import access_problem
from ragtasks_gateway.ownership import Caller
from ragtasks_gateway.query_sampler import QuerySampler

KEYS = "alice:tok-alice-1,bob:tok-bob-2,ops:tok-ops-3:read+write+admin,tok-bare-4"
ALICE, BOB, OPS, BARE = parse_api_keys(KEYS.split(","))


def _raise(fingerprint: str) -> RaiseAlert:
    return RaiseAlert(fingerprint=fingerprint, severity="warning", title="召回下降", body="", labels={}, source="api")


def test_under_isolation_a_keys_fingerprint_can_never_be_a_system_or_another_keys() -> None:
    bob, alice = Caller.of(BOB, True), Caller.of(ALICE, True)
    system = ["recall-drop:kb-alice", empty_retrieval_fingerprint("kb-alice"), "task_failure:x:ValueError"]
    for target in system:
        spaced = ownership.alert_fingerprint(target, bob)
        assert spaced == f"bob/{target}" and spaced not in system
    # Bob cannot forge Alice's namespace either: his prefix always comes first.
    assert ownership.alert_fingerprint("alice/x", bob) == "bob/alice/x" != ownership.alert_fingerprint("x", alice)
    # An admin key's are namespaced too; with isolation off nothing changes.
    assert ownership.alert_fingerprint("recall-drop:kb-alice", Caller.of(OPS, True)) == "ops/recall-drop:kb-alice"
    assert ownership.alert_fingerprint(" recall-drop:kb-alice ", Caller.of(BOB, False)) == "recall-drop:kb-alice"
    assert ownership.alert_fingerprint("", bob) == ""  # left to fail validation, as before


def test_a_long_fingerprint_stays_valid_and_distinct() -> None:
    bob = Caller.of(BOB, True)
    one, two = ownership.alert_fingerprint("告" * 255 + "一", bob), ownership.alert_fingerprint("告" * 255 + "二", bob)
    assert one != two and len(one) == len(two) == 256 and one.startswith("bob/")
    assert _raise(one).fingerprint == one  # the contract takes it


def _settings(isolation: bool) -> Settings:
    return Settings(api_keys=KEYS.split(","), api_key_isolation=isolation)


def test_under_isolation_only_a_listed_admin_reaches_silences_dlq_and_redelivery() -> None:
    paths = [("POST", "/v1/silences"), ("GET", "/v1/silences"), ("DELETE", "/v1/silences/s1"),
             ("GET", "/v1/dlq/summarizer"), ("POST", "/v1/alerts/a1/redeliver")]  # fmt: skip
    on, off = _settings(True), _settings(False)
    for method, path in paths:
        for token in ("tok-bob-2", "tok-bare-4"):  # every scope implicitly, but no listed admin
            key, refused = access_problem(on, method, path, f"Bearer {token}")
            assert key is not None and refused is not None and refused[0] == 403, (method, path, token)
            assert access_problem(off, method, path, f"Bearer {token}")[1] is None
        assert access_problem(on, method, path, "Bearer tok-ops-3")[1] is None
    # Confined keys keep their own deletes.
    assert access_problem(on, "DELETE", "/v1/sessions/s1", "Bearer tok-bob-2")[1] is None


def test_a_confined_callers_events_show_only_its_own_kbs_and_sample_its_own_and_new_ones() -> None:
    owners = {"kb-bob": "bob", "kb-alice": "alice", "kb-legacy": None}
    kb_ids = {"kb-bob", "kb-alice", "kb-legacy", "kb-new"}
    shown, sampled = ownership.event_rights(kb_ids, owners, Caller.of(BOB, True))
    assert shown == {"kb-bob"} and sampled == {"kb-bob", "kb-new"}


def test_the_sampler_cancels_what_the_drain_did_not_finish() -> None:
    async def scenario() -> list[asyncio.Task[None]]:
        sampler = QuerySampler(None, max_per_kb=10)  # type: ignore[arg-type]
        started = asyncio.Event()

        async def stuck(_events: list[tuple[str, str, bool]]) -> None:
            started.set()
            await asyncio.sleep(3600)  # a write against a Mongo server that never answers

        sampler._record = stuck  # type: ignore[method-assign]
        assert sampler.submit([("kb", "退货政策", False)])
        tasks = list(sampler._tasks)
        await started.wait()
        await sampler.drain(0.05)
        return tasks

    tasks = asyncio.run(scenario())
    assert tasks and all(t.done() and t.cancelled() for t in tasks)
