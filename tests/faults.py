"""Fault injection for tests (docs/FAULTS.md): nothing here is on a production code path.

Three kinds of fault points, each installed with pytest's monkeypatch and gone when the test ends:

- `Outbound` - every HTTP call our adapters make (SYS-008, SYS-009, SYS-010) goes through an httpx
  transport that can, for a chosen system and path, time out before sending (`connect-timeout`), answer 5xx
  without the platform seeing the request (`5xx`), or let the platform do the work and then lose the
  answer: a read timeout (`timeout`) or a connection dropped before the answer (`drop`). The last two are
  the hard ones: the outside system acted and we do not know it.
- `Boto` - the same four for a boto3 client (SQS, S3) through botocore's before-call / after-call hooks:
  refused before the call, or the call made and its answer lost.
- `Commits` - a process crash (`ProcessCrash`, a BaseException, so no `except Exception` of ours can
  swallow it, as none can swallow a Lambda killed mid-request) just before or just after a commit:
  `UnitOfWork.commit` and `call_atomic` (a statement that commits by itself). A commit is picked by the
  use case on the call stack (`site`: the innermost waterrev function that committed, "module:function")
  and its ordinal, or by its ordinal alone; a recording pass lists every commit site a step reaches.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

OUTBOUND_KINDS = ("connect-timeout", "5xx", "timeout", "drop")


class ProcessCrash(BaseException):
    """The process died here (a Lambda timed out or was killed): nothing after this line runs."""


# ---------------------------------------------------------------- outbound HTTP (httpx) -----------
@dataclass
class _Rule:
    system: str
    kind: str
    path: str | None
    times: int
    method: str | None
    hits: int = 0


@dataclass
class Outbound:
    """The fault transport's rules and what went through it, (system, method, path, fault or "")."""

    systems: dict[str, str] = field(default_factory=dict)  # "host:port" -> system name
    rules: list[_Rule] = field(default_factory=list)
    log: list[tuple[str, str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(
        self, system: str, kind: str, *, path: str | None = None, times: int = 1, method: str | None = None
    ) -> None:
        """The next `times` calls to `system` (whose path matches the regular expression `path`, with
        `method`) get `kind`."""
        if kind not in OUTBOUND_KINDS:
            raise ValueError(kind)
        with self.lock:
            self.rules.append(_Rule(system, kind, path, times, method))

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def faults(self) -> list[tuple[str, str, str, str]]:
        with self.lock:
            return [entry for entry in self.log if entry[3]]

    def take(self, request: httpx.Request) -> tuple[str, str | None]:
        system = self.systems.get(f"{request.url.host}:{request.url.port}", "?")
        with self.lock:
            kind = None
            for rule in self.rules:
                if (
                    rule.system == system
                    and rule.hits < rule.times
                    and (rule.path is None or re.search(rule.path, request.url.path))
                    and (rule.method is None or rule.method == request.method)
                ):
                    rule.hits += 1
                    kind = rule.kind
                    break
            self.log.append((system, request.method, request.url.path, kind or ""))
        return system, kind


class FaultTransport(httpx.BaseTransport):
    def __init__(self, faults: Outbound) -> None:
        self._faults = faults
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        system, kind = self._faults.take(request)
        if kind == "connect-timeout":
            raise httpx.ConnectTimeout(f"injected: {system} unreachable", request=request)
        if kind == "5xx":
            return httpx.Response(503, json={"code": "INJECTED", "message": "injected 503"}, request=request)
        reply = self._inner.handle_request(request)
        if kind is None:
            return reply
        reply.read()  # the platform did the work; its answer is lost on the way back
        reply.close()
        if kind == "timeout":
            raise httpx.ReadTimeout(f"injected: {system} answered too late", request=request)
        raise httpx.RemoteProtocolError(f"injected: {system} dropped the connection", request=request)

    def close(self) -> None:
        self._inner.close()


def install_outbound(monkeypatch: Any, systems: dict[str, str]) -> Outbound:
    """Route the shared httpx clients of the SYS-008 / SYS-009 / SYS-010 adapters through a fault
    transport; `systems` maps each simulator's base URL to its name."""
    from waterrev.adapters import sys008, sys009, sys010

    faults = Outbound(systems={f"{httpx.URL(u).host}:{httpx.URL(u).port}": n for u, n in systems.items()})
    for module in (sys008, sys009, sys010):
        client = httpx.Client(transport=FaultTransport(faults), headers={"User-Agent": "waterrev-faults/1"})
        monkeypatch.setattr(module, "_HTTP", [client])
    return faults


# ---------------------------------------------------------------- boto3 (SQS, S3) -------------------
@dataclass
class Boto:
    """Faults for one boto3 client, by operation name (SendMessageBatch, PutObject ...)."""

    rules: list[list[Any]] = field(default_factory=list)  # [operation, kind, times, hits]
    log: list[tuple[str, str]] = field(default_factory=list)

    def arm(self, operation: str, kind: str, *, times: int = 1) -> None:
        if kind not in OUTBOUND_KINDS:
            raise ValueError(kind)
        self.rules.append([operation, kind, times, 0])

    def _take(self, operation: str, stage: str) -> str | None:
        for rule in self.rules:
            op, kind, times, hits = rule
            before = kind in ("connect-timeout", "5xx")
            if op == operation and hits < times and before == (stage == "before"):
                rule[3] += 1
                self.log.append((operation, kind))
                return str(kind)
        return None

    def before(self, model: Any, **_: Any) -> None:
        kind = self._take(model.name, "before")
        if kind == "connect-timeout":
            from botocore.exceptions import ConnectTimeoutError

            raise ConnectTimeoutError(endpoint_url=f"injected:{model.name}")
        if kind == "5xx":
            from botocore.exceptions import ClientError

            raise ClientError(
                {
                    "Error": {"Code": "InternalError", "Message": "injected"},
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                },
                model.name,
            )

    def after(self, model: Any, **_: Any) -> None:
        kind = self._take(model.name, "after")
        if kind is not None:
            from botocore.exceptions import ReadTimeoutError

            raise ReadTimeoutError(endpoint_url=f"injected:{model.name} ({kind})")


def install_boto(client: Any) -> tuple[Boto, Callable[[], None]]:
    """Hook a boto3 client; returns the faults and the function that unhooks them."""
    faults = Boto()
    events = client.meta.events
    events.register("before-call", faults.before, unique_id="faults-before")
    events.register("after-call", faults.after, unique_id="faults-after")

    def remove() -> None:
        events.unregister("before-call", unique_id="faults-before")
        events.unregister("after-call", unique_id="faults-after")

    return faults, remove


# ---------------------------------------------------------------- commits -----------------------------
def _site() -> str | None:
    """The innermost waterrev function (not db.py) on the stack: "package.module:function"; None for a
    commit of the test's own helpers (tests.support), which is no fault point."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("waterrev.") and module != "waterrev.db":
            return f"{module.removeprefix('waterrev.')}:{frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


@dataclass
class Commits:
    """Crash just before or just after a chosen commit; `seen` lists every commit site, in order."""

    seen: list[str] = field(default_factory=list)
    armed: list[list[Any]] = field(default_factory=list)  # [site or None, when, nth, count]
    crashed: list[tuple[str, str]] = field(default_factory=list)
    paused: bool = False  # setting the scene: commits neither recorded nor crashed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, when: str, *, site: str | None = None, nth: int = 1) -> None:
        if when not in ("before", "after"):
            raise ValueError(when)
        with self.lock:
            self.armed.append([site, when, nth, 0])

    def disarm(self) -> None:
        with self.lock:
            self.armed.clear()

    def _decide(self, site: str | None) -> str | None:
        with self.lock:
            if self.paused or site is None:
                return None
            self.seen.append(site)
            for rule in self.armed:
                if rule[0] is None or rule[0] == site:
                    rule[3] += 1
                    if rule[3] == rule[2]:
                        self.armed.remove(rule)
                        self.crashed.append((site, rule[1]))
                        return str(rule[1])
        return None

    @contextmanager
    def recording(self) -> Iterator[list[str]]:
        """The commit sites reached inside the block (distinct, in order of first reach)."""
        start = len(self.seen)
        sites: list[str] = []
        yield sites
        for site in self.seen[start:]:
            if site not in sites:
                sites.append(site)


def install_commits(monkeypatch: Any) -> Commits:
    from waterrev import db
    from waterrev.invoices import query as invoice_query
    from waterrev.invoices import results as invoice_results
    from waterrev.payments import notify

    faults = Commits()
    real_commit = db.UnitOfWork.commit
    real_atomic = db.call_atomic

    def commit(self: Any) -> None:
        when = faults._decide(_site())
        if when == "before":
            raise ProcessCrash("before commit")
        real_commit(self)
        if when == "after":
            raise ProcessCrash("after commit")

    def call_atomic(statement: str, *values: Any) -> Any:
        when = faults._decide(_site())
        if when == "before":
            raise ProcessCrash("before commit")
        result = real_atomic(statement, *values)
        if when == "after":
            raise ProcessCrash("after commit")
        return result

    monkeypatch.setattr(db.UnitOfWork, "commit", commit)
    for module in (db, notify, invoice_query, invoice_results):
        monkeypatch.setattr(module, "call_atomic", call_atomic)
    return faults


def survive(step: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """Run a step as the outside world sees it: a crash or an error is an answer that never came."""
    try:
        return step(), None
    except ProcessCrash as crash:
        return None, crash
