"""The outbox dispatcher: claims due messages, renders and sends them outside any transaction, records outcomes.

At-least-once: a message is sent, retried with exponential back-off and jitter, or moved to dead-letter after
`max_attempts` (or at once when retrying cannot help: a template error, a refused address) — never dropped.
Many pending breach/escalation messages for one recipient and channel are folded into one `supervisor_digest`;
they are held back for a short settle window first, so a burst another worker is still writing folds whole.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI, Clock
from engine.errors import StorageUnavailable
from notifiers.base import Notifier, Outgoing, RoutedChannel
from notifiers.errors import DeliveryError, TemplateRenderError, UnknownChannel
from notifiers.rendering import TemplateRenderer
from storage import outbox

log = logging.getLogger("shixian.notifiers")

#: The kinds a supervisor digest folds.
DIGESTED_KINDS = ("breach", "escalation")
#: How long a new breach/escalation waits by default, so that a burst still being written can be folded whole.
DEFAULT_SETTLE = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before attempt n+1: min(maximum, base * 2**(n-1)), less up to `jitter` of it (spreads retries)."""

    base: timedelta = timedelta(seconds=30)
    maximum: timedelta = timedelta(hours=1)
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.maximum < self.base:
            raise ValueError("Backoff needs 0 < base <= maximum")
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError("Backoff jitter is a fraction in [0, 1)")

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """The wait after `attempts` failed attempts (1 for the first failure)."""
        raw = self.base * (2 ** max(0, min(attempts - 1, 30)))
        capped = min(raw, self.maximum)
        factor: float = 1.0 - self.jitter * rng.random()
        return timedelta(seconds=capped.total_seconds() * factor)


@dataclass(frozen=True, slots=True)
class DigestPolicy:
    """When to fold: `threshold` or more pending breach/escalation messages for one recipient on one channel.

    `per_recipient` overrides by (recipient id, channel name), then by recipient id alone; None disables.
    """

    threshold: int | None = 5
    per_recipient: Mapping[tuple[str, str] | str, int | None] = field(default_factory=dict)

    def threshold_for(self, recipient: str, channel: str) -> int | None:
        if (recipient, channel) in self.per_recipient:
            return self.per_recipient[(recipient, channel)]
        if recipient in self.per_recipient:
            return self.per_recipient[recipient]
        return self.threshold


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A plain copy of a claimed row, so sending needs no live ORM object."""

    id: int
    channel: str
    recipient: str
    address: str
    template: str
    data: dict[str, Any]
    kind: str
    dedupe_key: str
    attempts: int
    parts_sent: int = 0


@dataclass(slots=True)
class _ChannelTrouble:
    """A channel's retryable failures in one round: logged once at the round's end, not once per message."""

    error: str  # the first failure's first line
    retry_at: datetime
    messages: int = 0
    recipients: set[str] = field(default_factory=set)


SessionSource = Engine | Callable[[], Session]
#: A channel and the server a send reaches on it ("" for a channel that does not say).
Endpoint = tuple[str, str]
#: The write that records one outcome, and the retry time when the endpoint did not answer.
Outcome = tuple[Callable[[Session], bool], datetime | None]


class OutboxDispatcher:
    """Sends the outbox. `dispatch(now)` does one round and answers how many messages it handled.

    Handled = claimed and then sent, rescheduled or dead-lettered, plus messages folded into a digest.
    Several dispatchers may run against one database: claims are exclusive until their lease expires.
    """

    def __init__(
        self,
        db: SessionSource,
        channels: Mapping[str, Notifier],
        renderer: TemplateRenderer,
        clock: Clock,
        *,
        backoff: Backoff | None = None,
        max_attempts: int = 8,
        lease: timedelta = timedelta(minutes=5),
        batch_size: int = 100,
        digest: DigestPolicy | None = None,
        rng: random.Random | None = None,
        worker_id: str | None = None,
        record_every: int = 20,
        send_budget: timedelta = timedelta(seconds=30),
        monotonic: Callable[[], float] = time.monotonic,
        settle: timedelta = DEFAULT_SETTLE,
    ) -> None:
        if max_attempts < 1 or batch_size < 1 or record_every < 1 or lease <= timedelta(0):
            raise ValueError("max_attempts, batch_size and record_every must be >= 1 and lease positive")
        if send_budget <= timedelta(0):
            raise ValueError("send_budget must be positive")
        if settle < timedelta(0):
            raise ValueError("settle must not be negative")
        self._db = db
        self.channels = dict(channels)
        self.renderer = renderer
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.max_attempts = max_attempts
        self.lease = lease
        self.batch_size = batch_size
        self.digest = digest or DigestPolicy()
        self.rng = rng or random.Random()
        self.worker_id = worker_id or f"dispatcher-{uuid.uuid4().hex[:8]}"
        # outcomes are written every `record_every` sends: keep record_every x channel timeout below the lease
        self.record_every = record_every
        # a round sends for at most this long, and never past half its lease: what is left of its batch goes
        # back unsent, so a slow channel neither outlasts the claim (another worker would send the same
        # messages again) nor holds up the worker's next tick or its stop
        self.send_budget = min(send_budget, lease / 2)
        # breaches and escalations younger than this wait (for recipients whose digests are on): another worker
        # may still be committing the same burst one SLA moment per transaction, and what it has not committed
        # yet cannot be counted towards the threshold; keep it above the time a tick takes to write a burst
        self.settle = settle
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._trouble: dict[str, _ChannelTrouble] = {}  # this round's retryable failures, by channel
        self._failing: set[str] = set()  # channels whose last outcome was a retryable failure

    def request_stop(self) -> None:
        """Finish the message being sent, give the rest of the batch back, and send no more (a worker's
        SIGTERM); a later `dispatch` sends nothing."""
        self._stop.set()

    def _session(self) -> Session:
        if isinstance(self._db, Engine):
            return Session(self._db, expire_on_commit=False)
        return self._db()

    # ---- one round ------------------------------------------------------------------------------------------

    def dispatch(self, now: datetime | None = None) -> int:
        """Fold digests, claim due messages, send each, record each outcome; `now` is the round's moment.

        Never raises for one message; raises StorageUnavailable when the database cannot be read or claimed
        (nothing was sent then). An outcome that cannot be written is logged: the claim's lease runs out
        and the message is sent again (at least once; the receiver drops the repeat by its dedupe key).
        """
        if self._stop.is_set():
            return 0
        moment = now or self.clock.now()
        claimant = f"{self.worker_id}:{uuid.uuid4().hex[:12]}"
        try:
            handled = self.fold_digests(moment)
            with self._session() as session:
                rows = outbox.claim_due(session, moment, claimant, self.lease, self.batch_size, self._hold(moment))
                claimed = [
                    _Claimed(r.id or 0, r.channel, r.recipient, r.recipient_address, r.template, r.payload(), r.kind,
                             r.dedupe_key, r.attempts, r.parts_sent)
                    for r in rows
                ]
                session.commit()
        except SQLAlchemyError as err:
            raise StorageUnavailable(f"outbox claim failed: {str(err).splitlines()[0]}") from err
        self._trouble = {}
        handled += self._send_all(claimed, claimant, moment)
        self._log_trouble()
        return handled

    def _send_all(self, claimed: list[_Claimed], claimant: str, moment: datetime) -> int:
        """Send the claimed messages in order within the round's budget; an endpoint that did not answer gets
        no more tries this round: its other messages go back untried until its failed message's retry time."""
        outcomes: list[Callable[[Session], bool]] = []
        down: dict[Endpoint, datetime] = {}
        untried: dict[Endpoint, list[_Claimed]] = {}
        started, budget = self._monotonic(), self.send_budget.total_seconds()
        handled = 0
        for index, message in enumerate(claimed):
            endpoint = self._endpoint(message)
            if endpoint in down:
                untried.setdefault(endpoint, []).append(message)
                continue
            if self._stop.is_set() or self._monotonic() - started >= budget:
                rest: list[_Claimed] = []  # given back for the next round; a down endpoint's wait for its retry
                for other in claimed[index:]:
                    where = self._endpoint(other)
                    (untried.setdefault(where, []) if where in down else rest).append(other)
                self._record(outcomes)
                outcomes = []
                self._release([m.id for m in rest], claimant,
                              "stopping" if self._stop.is_set() else f"over the {budget:g} s budget of a round")
                break
            write, unreachable_until = self._deliver(message, claimant, moment)
            outcomes.append(write)
            handled += 1
            if unreachable_until is not None:
                down[endpoint] = unreachable_until
            if len(outcomes) >= self.record_every:
                self._record(outcomes)
                outcomes = []
        self._record(outcomes)
        for endpoint, waiting in sorted(untried.items()):
            self._wait_for(endpoint, waiting, down[endpoint], claimant)
        return handled

    def _wait_for(self, endpoint: Endpoint, waiting: list[_Claimed], retry_at: datetime, claimant: str) -> None:
        """Give back the messages of an endpoint that did not answer, untried, until its failed message's
        retry; the round's warning counts them among the channel's waiting messages."""
        trouble = self._trouble.get(endpoint[0])
        if trouble is not None:
            trouble.messages += len(waiting)
            trouble.recipients.update(m.recipient for m in waiting)
        where = f"{endpoint[0]} ({endpoint[1]})" if endpoint[1] else endpoint[0]
        self._release([m.id for m in waiting], claimant,
                      f"{where} did not answer; they wait for its failed message's retry", not_before=retry_at,
                      note=f"not tried: {where} did not answer another message; tried again from "
                           f"{retry_at.isoformat(timespec='seconds')}")

    def _endpoint(self, message: _Claimed) -> Endpoint:
        channel = self.channels.get(message.channel)
        where = channel.endpoint(message.address) if isinstance(channel, RoutedChannel) else ""
        return message.channel, where

    def _hold(self, moment: datetime) -> outbox.Hold | None:
        """Which young breach/escalation messages wait for the settle window: those of recipients whose
        digests are on (with digests off there is nothing to fold, so nothing waits)."""
        if self.settle <= timedelta(0):
            return None
        policy = self.digest
        pairs = {key: value is not None for key, value in policy.per_recipient.items() if isinstance(key, tuple)}
        people = {key: value is not None for key, value in policy.per_recipient.items() if isinstance(key, str)}
        return outbox.Hold(DIGESTED_KINDS, moment - self.settle, policy.threshold is not None, people, pairs)

    def _log_trouble(self) -> None:
        """One warning per channel that failed retryably this round: with a server down, an operator reads one
        line a round per channel instead of one per message, and learns when the next try is."""
        for name, trouble in sorted(self._trouble.items()):
            log.warning(
                "channel %r is failing: %d message(s) to %d recipient(s) will be retried, the first at %s: %s",
                name, trouble.messages, len(trouble.recipients),
                trouble.retry_at.astimezone(SHANGHAI).isoformat(timespec="seconds"), trouble.error,
            )
        self._failing |= set(self._trouble)

    def _release(self, ids: list[int], claimant: str, why: str, not_before: datetime | None = None,
                 note: str | None = None) -> None:
        try:
            with self._session() as session:
                given_back = outbox.release(session, ids, claimant, not_before, note)
                session.commit()
        except SQLAlchemyError as err:  # the lease runs out instead, and the messages are claimed again then
            log.error("could not give back %d unsent outbox messages (%s): %s", len(ids), why, err)
            return
        log.info("gave back %d unsent outbox messages untried: %s", given_back, why)

    def fold_digests(self, now: datetime) -> int:
        """Replace each over-threshold group of pending breach/escalation messages by one digest message.

        A group is folded once settled (nothing in it younger than the settle window, or something in it due
        to go out alone), so a burst another worker is still writing becomes one digest, not two.
        """
        folded = 0
        with self._session() as session:
            for group in outbox.pending_groups(session, DIGESTED_KINDS, now, now - self.settle):
                recipient, channel, address = group.recipient, group.channel, group.address
                threshold = self.digest.threshold_for(recipient, channel)
                if threshold is None or group.count < threshold or not group.settled:
                    continue
                placeholder = f"digest:{channel}:{recipient}:pending:{uuid.uuid4().hex}"
                row = {
                    "created_at": now, "channel": channel, "recipient": recipient, "recipient_address": address,
                    "template": "supervisor_digest", "data": {}, "kind": "digest", "dedupe_key": placeholder,
                }
                result = outbox.fold_into_digest(session, recipient, channel, DIGESTED_KINDS, row, minimum=threshold)
                if result is None:
                    continue
                digest_id, items = result
                cases = _one_line_per_case([dict(item.payload(), outbox_id=item.id, kind=item.kind)
                                            for item in items])
                data = {
                    "kind": "digest",
                    "count": len(cases),  # cases to chase; a breach and its levels are one case
                    "messages": len(items),
                    "date": now.astimezone(SHANGHAI).date().isoformat(),
                    "items": cases,
                    # the recipient's own steps only (told as their assignee): to act on them, not to chase others
                    "own": all(case.get("role") is not None and case.get("role") == case.get("assignee_role")
                               for case in cases),
                }
                key = f"digest:{channel}:{recipient}:{items[0].id}-{items[-1].id}:{len(items)}"
                outbox.set_data(session, digest_id, data, dedupe_key=key)
                folded += len(items)
                log.info("folded %d messages for %s on %s into digest %d", len(items), recipient, channel, digest_id)
            session.commit()
        return folded

    # ---- one message ----------------------------------------------------------------------------------------

    def _deliver(self, message: _Claimed, claimant: str, moment: datetime) -> Outcome:
        """Render and send one message; answer the write that records its outcome, and the retry time when its
        endpoint did not answer."""
        try:
            channel = self.channels.get(message.channel)
            if channel is None:
                raise UnknownChannel(message.channel, list(self.channels))
            rendered = self.renderer.render(message.template, message.data)
            channel.send(Outgoing(message.channel, message.recipient, message.address, rendered,
                                  message.dedupe_key, message.kind, message.template, message.data,
                                  message.parts_sent))
        except (TemplateRenderError, UnknownChannel) as err:
            log.error("outbox message %d is dead: %s", message.id, err)
            reason = str(err)
            return (lambda s: outbox.mark_dead(s, message.id, claimant, reason)), None
        except DeliveryError as err:
            write, retry_at = self._failed(message, claimant, moment, err, err.problem, err.transient, err.detail)
            return write, retry_at if err.unreachable else None
        except Exception as err:  # a faulty channel plug-in must not stop the others; treat as transient
            log.exception("channel %r raised unexpectedly for outbox message %d", message.channel, message.id)
            detail = f"{type(err).__name__}: {err}"
            return self._failed(message, claimant, moment, detail, detail, True, detail)[0], None
        if message.channel in self._failing:
            self._failing.discard(message.channel)
            log.info("channel %r delivers again (outbox message %d sent)", message.channel, message.id)
        return (lambda s: outbox.mark_sent(s, message.id, claimant, moment)), None

    def _failed(
        self, message: _Claimed, claimant: str, moment: datetime, error: DeliveryError | str, problem: str,
        transient: bool, detail: str,
    ) -> tuple[Callable[[Session], bool], datetime | None]:
        """The outcome of a failed send: dead (with a reason that gives no retry advice any more), or retried
        after the back-off from the round's moment (and that moment). The parts of a split message delivered so
        far are kept, so that no later send posts them again."""
        parts = max(message.parts_sent, error.parts_sent if isinstance(error, DeliveryError) else 0)
        delivered = f"; parts 1-{parts} were delivered: a retry posts only the rest" if parts else ""
        if not transient:
            reason = str(error) + delivered
            log.warning("outbox message %d is dead: %s", message.id, reason)
            return (lambda s: outbox.mark_dead(s, message.id, claimant, reason, parts)), None
        if message.attempts >= self.max_attempts:
            tries = f"{message.attempts} attempt{'s' if message.attempts != 1 else ''}"
            reason = (f"{problem} (given up after {tries}; once the channel works again, "
                      f"`cli.py outbox retry {message.id}` sends it){delivered}")
            log.warning("outbox message %d is dead: %s", message.id, reason)
            return (lambda s: outbox.mark_dead(s, message.id, claimant, reason, parts)), None
        retry_at = moment + self.backoff.delay(message.attempts, self.rng)
        trouble = self._trouble.setdefault(
            message.channel, _ChannelTrouble((detail.strip().splitlines() or [""])[0], retry_at))
        trouble.messages += 1
        trouble.recipients.add(message.recipient)
        trouble.retry_at = min(trouble.retry_at, retry_at)
        text = str(error) + delivered
        return (lambda s: outbox.mark_retry(s, message.id, claimant, text, retry_at, parts)), retry_at

    def _record(self, writes: list[Callable[[Session], bool]]) -> None:
        """Write several outcomes in one transaction (one commit per message would bound throughput)."""
        if not writes:
            return
        try:
            with self._session() as session:
                for write in writes:
                    if not write(session):
                        # another dispatcher retook the claim after our lease ran out: it records the outcome
                        log.warning("claim lost before recording an outcome; the other claimant records it")
                session.commit()
        except SQLAlchemyError as err:
            log.error("could not record an outbox outcome (the message is retried after its lease): %s", err)


def _one_line_per_case(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The digest's lines: one per step of an instance (its breach and each escalation level of the same late
    step are one case for the supervisor), as told at the highest level folded, in the order first seen."""
    cases: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for item in items:
        key = (item.get("instance_id"), item.get("state"), item.get("business_key"))
        held = cases.get(key)
        if held is None or _rank(item) > _rank(held):
            cases[key] = item if held is None else {**item, "outbox_id": held["outbox_id"]}
    return sorted(cases.values(), key=lambda i: i["outbox_id"])


def _rank(item: Mapping[str, Any]) -> tuple[int, int]:
    level = item.get("level")
    return (1 if item.get("kind") == "escalation" else 0, level if isinstance(level, int) else 0)


__all__ = ["DEFAULT_SETTLE", "DIGESTED_KINDS", "Backoff", "DigestPolicy", "OutboxDispatcher"]
