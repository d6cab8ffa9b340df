"""The simulator's scenario: a TOML file describing the PBX, its people and its traffic.

Every key is documented in docs/sim.md. Unknown keys and bad values raise
``cti.core.errors.ConfigError`` naming the file and the dotted key. A duration or count that varies is
a *distribution*: a number (constant) or a table ``{dist = "...", ...}``:

- ``{dist = "constant", value = 3}``
- ``{dist = "uniform", min = 1, max = 5}``
- ``{dist = "exponential", mean = 60}``
- ``{dist = "normal", mean = 180, sd = 60, min = 5}`` (clipped at ``min``, default 0)
- ``{dist = "lognormal", mean = 180, sd = 90}`` (mean and sd of the distribution itself)
"""

from __future__ import annotations

import math
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cti.core.errors import ConfigError

DIALPLANS = ("sample", "recorded")
STRATEGIES = ("ringall", "leastrecent", "rrmemory", "fewestcalls", "random", "linear")
EMPTY_CONDITIONS = ("paused", "penalty", "inuse", "ringing", "unavailable", "invalid", "unknown", "wrapup")


@dataclass(frozen=True, slots=True)
class Dist:
    kind: str = "constant"
    a: float = 0.0
    b: float = 0.0
    floor: float = 0.0

    def sample(self, rng: random.Random) -> float:
        k = self.kind
        if k == "constant":
            v = self.a
        elif k == "uniform":
            v = rng.uniform(self.a, self.b)
        elif k == "exponential":
            v = rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0
        elif k == "normal":
            v = rng.gauss(self.a, self.b)
        else:  # lognormal, parametrised by the distribution's own mean and sd
            mean, sd = self.a, self.b
            sigma2 = math.log(1 + (sd * sd) / (mean * mean))
            v = rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
        return max(self.floor, v)

    @property
    def mean(self) -> float:
        if self.kind == "uniform":
            return (self.a + self.b) / 2
        return self.a


@dataclass(frozen=True, slots=True)
class User:
    username: str
    secret: str
    read: frozenset[str]
    write: frozenset[str]


@dataclass(frozen=True, slots=True)
class MemberSpec:
    agent: str
    penalty: int = 0


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    strategy: str = "ringall"
    timeout: float = 15.0
    retry: float = 5.0
    wrapuptime: float = 0.0
    servicelevel: int = 60
    maxwait: float = 300.0
    autofill: bool = False
    joinempty: frozenset[str] = frozenset()
    leavewhenempty: frozenset[str] = frozenset()
    members: tuple[MemberSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentSpec:
    extension: str
    name: str
    ring_delay: Dist = Dist("constant", 1.0)
    answer_probability: float = 1.0
    talk_time: Dist = Dist("constant", 60.0)
    caller_hangs_up: float = 0.0  # probability that the caller, not the agent, ends the call
    manual: bool = False  # the phone answers but the call lasts until an AMI Hangup or max_talk
    max_talk: float = 3600.0
    paused: bool = False
    pause_reason: str = ""


@dataclass(frozen=True, slots=True)
class Customer:
    number: str
    name: str


BUILTIN_CUSTOMERS: tuple[Customer, ...] = (
    Customer("13800138000", "张伟"),
    Customer("+34911234567", "José Núñez"),
    Customer("13912345678", "Li Na"),
    Customer("4155550100", "ACME Corp"),
    Customer("02161234567", "王芳"),
    Customer("35312345678", "Siobhán O'Brien"),
    Customer("4930123456", "Jürgen Groß"),
    Customer("4155550199", "<b>x</b>"),
    Customer("13700001111", ""),
    Customer("33142685300", "Élodie Dupré"),
)


@dataclass(frozen=True, slots=True)
class CallType:
    """One kind of generated call: where the caller dials and what it presses at the IVR."""

    weight: float
    exten: str  # a queue name, "hold", or a dialled number (routed by [dids] / the dialplan)
    choice: str | None = None  # the digits pressed at the holding extension's Read() (CHOICE)


@dataclass(frozen=True, slots=True)
class TrafficSpec:
    enabled: bool = False
    calls_per_hour: tuple[float, ...] = (0.0,) * 24
    patience: Dist = Dist("exponential", 90.0)
    talk_time: Dist | None = None  # when set, callers carry __TALK (the agent hangs up after it)
    ivr: tuple[tuple[str, float], ...] = ()
    hold_fraction: float = 0.0  # share of callers sent to inbound,hold for CTI routing
    calls: tuple[CallType, ...] = ()  # when set, replaces ivr and hold_fraction
    customers: tuple[Customer, ...] = BUILTIN_CUSTOMERS


@dataclass(frozen=True, slots=True)
class PstnSpec:
    answer: float = 0.55
    busy: float = 0.1
    no_answer: float = 0.2
    congestion: float = 0.05
    machine: float = 0.1
    ring_time: Dist = Dist("uniform", 2.0, 10.0)
    talk_time: Dist = Dist("lognormal", 90.0, 45.0)
    machine_message: Dist = Dist("constant", 8.0)


@dataclass(frozen=True, slots=True)
class Scenario:
    path: str = "<built-in>"
    version: str = "13.0.0"
    timestampevents: bool = True
    start: float = 0.0  # 0 = the wall clock at start-up
    seed: int = 0
    cwait: float = 2.0  # dialer-connect's default queue wait (the 2-second rule)
    dialplan: str = "sample"  # "sample": config/asterisk/extensions.conf; "recorded": the transcripts' PBX
    users: tuple[User, ...] = ()
    queues: tuple[QueueSpec, ...] = ()
    agents: tuple[AgentSpec, ...] = ()
    traffic: TrafficSpec = field(default_factory=TrafficSpec)
    pstn: PstnSpec = field(default_factory=PstnSpec)
    dids: tuple[tuple[str, str], ...] = ()  # dialled number -> queue name or "hold"
    # the sample dialplan asks cti over FastAGI where a DID's call goes (host:port; "": it does not)
    agi: str = ""
    agi_fallback: str = ""  # the Queue() the dialplan falls back to when cti does not answer


class _Reader:
    """Typed access to one TOML table, naming ``file: dotted.key`` in every error."""

    def __init__(self, path: str, prefix: str, data: dict[str, Any]) -> None:
        self.path, self.prefix, self.data = path, prefix, data
        self.used: set[str] = set()

    def key(self, k: str) -> str:
        return f"{self.prefix}{k}"

    def err(self, k: str, problem: str) -> ConfigError:
        return ConfigError(self.path, self.key(k), problem)

    def get(self, k: str, default: Any = None) -> Any:
        self.used.add(k)
        return self.data.get(k, default)

    def str_(self, k: str, default: str | None = None) -> str:
        v = self.get(k, default)
        if not isinstance(v, str):
            raise self.err(k, "required string" if v is None else f"expected a string, got {v!r}")
        return v

    def num(self, k: str, default: float, lo: float = 0.0, hi: float = math.inf) -> float:
        v = self.get(k, default)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.err(k, f"expected a number, got {v!r}")
        if not lo <= v <= hi:
            raise self.err(k, f"{v} is out of range [{lo}, {hi}]")
        return float(v)

    def bool_(self, k: str, default: bool) -> bool:
        v = self.get(k, default)
        if not isinstance(v, bool):
            raise self.err(k, f"expected true or false, got {v!r}")
        return v

    def dist(self, k: str, default: Dist) -> Dist:
        v = self.get(k)
        if v is None:
            return default
        return parse_dist(self.path, self.key(k), v)

    def table(self, k: str) -> _Reader:
        v = self.get(k, {})
        if not isinstance(v, dict):
            raise self.err(k, "expected a table")
        return _Reader(self.path, self.key(k) + ".", v)

    def tables(self, k: str) -> list[_Reader]:
        v = self.get(k, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise self.err(k, "expected an array of tables ([[...]])")
        return [_Reader(self.path, f"{self.key(k)}[{i}].", x) for i, x in enumerate(v)]

    def done(self) -> None:
        for k in self.data:
            if k not in self.used:
                raise self.err(k, "unknown key")


def parse_dist(path: str, key: str, v: Any) -> Dist:
    if isinstance(v, int | float) and not isinstance(v, bool):
        if v < 0:
            raise ConfigError(path, key, "must not be negative")
        return Dist("constant", float(v))
    if not isinstance(v, dict):
        raise ConfigError(path, key, "expected a number or a table {dist = ...}")
    r = _Reader(path, key + ".", v)
    kind = r.str_("dist")
    if kind == "constant":
        d = Dist(kind, r.num("value", 0.0))
    elif kind == "uniform":
        lo, hi = r.num("min", 0.0), r.num("max", 0.0)
        if hi < lo:
            raise r.err("max", "must be >= min")
        d = Dist(kind, lo, hi)
    elif kind == "exponential":
        d = Dist(kind, r.num("mean", 1.0, lo=1e-9))
    elif kind in ("normal", "lognormal"):
        d = Dist(kind, r.num("mean", 1.0, lo=1e-9), r.num("sd", 0.0), r.num("min", 0.0))
    else:
        raise r.err(
            "dist", f"unknown distribution {kind!r} (constant, uniform, exponential, normal, lognormal)"
        )
    r.done()
    return d


def _classes(r: _Reader, k: str) -> frozenset[str]:
    v = r.get(k, "all")
    if not isinstance(v, str):
        raise r.err(k, "expected a comma-separated list of classes")
    return frozenset(p.strip().lower() for p in v.split(",") if p.strip())


def _conditions(r: _Reader, k: str) -> frozenset[str]:
    v = r.get(k, "no")
    if isinstance(v, bool):
        v = "yes" if v else "no"
    if not isinstance(v, str):
        raise r.err(k, "expected yes, no, strict, loose or a list of conditions")
    v = v.strip().lower()
    table = {
        "no": "",
        "yes": "paused,penalty,inuse,ringing,unavailable,invalid,unknown,wrapup",
        "strict": "penalty,paused,invalid,unavailable",
        "loose": "penalty,invalid",
    }
    words = [w.strip() for w in table.get(v, v).split(",") if w.strip()]
    for w in words:
        if w not in EMPTY_CONDITIONS:
            raise r.err(k, f"unknown condition {w!r}")
    return frozenset(words)


def load_customers(path: str, key: str, csv_path: Path) -> tuple[Customer, ...]:
    """A CSV ``number,name`` (a header row ``number,name`` is allowed). Bad rows name their line."""
    import csv

    try:
        text = csv_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, key, f"cannot read {csv_path}: {e}") from e
    out: list[Customer] = []
    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or (lineno == 1 and [c.strip().lower() for c in row[:2]] == ["number", "name"]):
            continue
        if len(row) != 2:
            raise ConfigError(
                path, key, f"{csv_path}:{lineno}: expected 2 columns number,name, got {len(row)}"
            )
        number, name = row[0].strip(), row[1].strip()
        if not number or not all(c.isdigit() or c == "+" for c in number):
            raise ConfigError(path, key, f"{csv_path}:{lineno}: bad number {number!r}")
        out.append(Customer(number, name))
    if not out:
        raise ConfigError(path, key, f"{csv_path}: no customers")
    return tuple(out)


def parse_scenario(data: dict[str, Any], path: str = "<scenario>", base: Path | None = None) -> Scenario:
    top = _Reader(path, "", data)
    sim = top.table("sim")
    scenario_kw: dict[str, Any] = {
        "path": path,
        "version": sim.str_("version", "13.0.0"),
        "timestampevents": sim.bool_("timestampevents", True),
        "start": sim.num("start", 0.0),
        "seed": int(sim.num("seed", 0)),
        "cwait": sim.num("cwait", 2.0),
        "dialplan": sim.str_("dialplan", "sample"),
        "agi": sim.str_("agi", ""),
        "agi_fallback": sim.str_("agi_fallback", ""),
    }
    host, sep, port = scenario_kw["agi"].rpartition(":")
    if scenario_kw["agi"] and (not sep or not host or not port.isdigit() or not 0 < int(port) < 65536):
        raise sim.err("agi", f"expected host:port, got {scenario_kw['agi']!r}")
    if scenario_kw["dialplan"] not in DIALPLANS:
        raise sim.err("dialplan", f"unknown dialplan {scenario_kw['dialplan']!r} (sample or recorded)")
    sim.done()

    users = []
    for u in top.tables("users"):
        users.append(User(u.str_("username"), u.str_("secret"), _classes(u, "read"), _classes(u, "write")))
        u.done()

    agents = []
    seen_ext: set[str] = set()
    for a in top.tables("agents"):
        ext = a.str_("extension")
        if not ext.isdigit():
            raise a.err("extension", "must be digits")
        if ext in seen_ext:
            raise a.err("extension", f"duplicate extension {ext}")
        seen_ext.add(ext)
        agents.append(
            AgentSpec(
                extension=ext,
                name=a.str_("name"),
                ring_delay=a.dist("ring_delay", Dist("constant", 1.0)),
                answer_probability=a.num("answer_probability", 1.0, 0.0, 1.0),
                talk_time=a.dist("talk_time", Dist("constant", 60.0)),
                caller_hangs_up=a.num("caller_hangs_up", 0.0, 0.0, 1.0),
                manual=a.bool_("manual", False),
                max_talk=a.num("max_talk", 3600.0, 1.0),
                paused=a.bool_("paused", False),
                pause_reason=a.str_("pause_reason", ""),
            )
        )
        a.done()

    queues = []
    for q in top.tables("queues"):
        strategy = q.str_("strategy", "ringall")
        if strategy not in STRATEGIES:
            raise q.err("strategy", f"unknown strategy {strategy!r} (one of {', '.join(STRATEGIES)})")
        members = []
        for m in q.tables("members"):
            ext = m.str_("agent")
            if ext not in seen_ext:
                raise m.err("agent", f"no [[agents]] entry with extension {ext}")
            members.append(MemberSpec(ext, int(m.num("penalty", 0, 0, 1000))))
            m.done()
        queues.append(
            QueueSpec(
                name=q.str_("name"),
                strategy=strategy,
                timeout=q.num("timeout", 15.0, 1.0),
                retry=q.num("retry", 5.0, 0.0),
                wrapuptime=q.num("wrapuptime", 0.0),
                servicelevel=int(q.num("servicelevel", 60)),
                maxwait=q.num("maxwait", 300.0, 1.0),
                autofill=q.bool_("autofill", False),
                joinempty=_conditions(q, "joinempty"),
                leavewhenempty=_conditions(q, "leavewhenempty"),
                members=tuple(members),
            )
        )
        q.done()
    names = [q.name for q in queues]
    if len(set(names)) != len(names):
        raise ConfigError(path, "queues", "duplicate queue name")

    t = top.table("traffic")
    hours = t.get("calls_per_hour", [0.0] * 24)
    if isinstance(hours, int | float) and not isinstance(hours, bool):
        hours = [float(hours)] * 24
    if (
        not isinstance(hours, list)
        or len(hours) != 24
        or not all(isinstance(h, int | float) and h >= 0 for h in hours)
    ):
        raise t.err(
            "calls_per_hour", "expected a number or 24 non-negative numbers (one per hour of the day)"
        )
    ivr_r = t.table("ivr")
    ivr = []
    for qname in list(ivr_r.data):
        if qname not in names and qname != "hold":
            raise ivr_r.err(qname, "no such queue")
        ivr.append((qname, ivr_r.num(qname, 0.0)))
    ivr_r.done()
    customers = BUILTIN_CUSTOMERS
    csv_name = t.get("customers")
    if csv_name is not None:
        if not isinstance(csv_name, str):
            raise t.err("customers", "expected a path to a CSV file")
        csv_path = Path(csv_name)
        if not csv_path.is_absolute() and base is not None:
            csv_path = base / csv_path
        customers = load_customers(path, t.key("customers"), csv_path)
    calls = []
    for c in t.tables("calls"):
        weight = c.num("weight", 1.0)
        did, exten = c.get("did"), c.get("exten")
        if (did is None) == (exten is None):
            raise c.err("did", "give exactly one of did (a dialled number) and exten (a queue or hold)")
        if did is not None:
            did = c.str_("did")
            if not did.isdigit():
                raise c.err("did", f"a dialled number is digits, got {did!r}")
            target = did
        else:
            target = c.str_("exten")
            if target not in names and target != "hold":
                raise c.err("exten", f"no such queue {target!r} (a queue name or hold)")
        choice = c.get("choice")
        if choice is not None:
            choice = c.str_("choice")
            if not all(ch.isdigit() or ch in "*#" for ch in choice):
                raise c.err("choice", f"IVR digits are 0-9, * and #, got {choice!r}")
        calls.append(CallType(weight, target, choice))
        c.done()
    if calls and (t.data.get("ivr") or t.data.get("hold_fraction")):
        raise t.err("calls", "calls replaces ivr and hold_fraction: give one or the other")
    if calls and sum(c.weight for c in calls) <= 0:
        raise t.err("calls", "the weights must not all be 0")
    talk = t.get("talk_time")
    traffic = TrafficSpec(
        enabled=t.bool_("enabled", False),
        calls_per_hour=tuple(float(h) for h in hours),
        patience=t.dist("patience", Dist("exponential", 90.0)),
        talk_time=None if talk is None else parse_dist(path, t.key("talk_time"), talk),
        ivr=tuple(ivr) or tuple((n, 1.0) for n in names),
        hold_fraction=t.num("hold_fraction", 0.0, 0.0, 1.0),
        calls=tuple(calls),
        customers=customers,
    )
    t.done()

    d = top.table("dids")
    dids = []
    for number in list(d.data):
        target = d.str_(number)
        if target not in names and target != "hold":
            raise d.err(number, f"no such queue {target!r} (a queue name or hold)")
        dids.append((number, target))
    d.done()

    p = top.table("pstn")
    pstn = PstnSpec(
        answer=p.num("answer", 0.55, 0, 1),
        busy=p.num("busy", 0.1, 0, 1),
        no_answer=p.num("no_answer", 0.2, 0, 1),
        congestion=p.num("congestion", 0.05, 0, 1),
        machine=p.num("machine", 0.1, 0, 1),
        ring_time=p.dist("ring_time", Dist("uniform", 2.0, 10.0)),
        talk_time=p.dist("talk_time", Dist("lognormal", 90.0, 45.0)),
        machine_message=p.dist("machine_message", Dist("constant", 8.0)),
    )
    total = pstn.answer + pstn.busy + pstn.no_answer + pstn.congestion + pstn.machine
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(path, "pstn", f"answer+busy+no_answer+congestion+machine must be 1, got {total:g}")
    p.done()
    top.done()
    return Scenario(
        **scenario_kw,
        users=tuple(users),
        queues=tuple(queues),
        agents=tuple(agents),
        traffic=traffic,
        pstn=pstn,
        dids=tuple(dids),
    )


def load_scenario(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(str(p), "-", f"cannot read: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(p), "-", f"invalid TOML: {e}") from e
    return parse_scenario(data, str(p), p.parent)


def transcript_pbx() -> Scenario:
    """The PBX the shared AMI transcripts were recorded on (see shared/ami-transcripts/README.md)."""
    agents = tuple(
        AgentSpec(ext, name, ring_delay=Dist("constant", 1.0), talk_time=Dist("constant", 5.0))
        for ext, name in (
            ("1001", "Alice"),
            ("1002", "Bob"),
            ("1003", "Carol"),
            ("1004", "Dave"),
            ("1005", "Erin"),
        )
    )
    return Scenario(
        dialplan="recorded",
        users=(User("cti", "ctisecret", frozenset({"all"}), frozenset({"all"})),),
        agents=agents,
        queues=(
            QueueSpec(
                "sales",
                "leastrecent",
                timeout=4,
                retry=1,
                wrapuptime=2,
                servicelevel=20,
                members=(MemberSpec("1001"), MemberSpec("1002"), MemberSpec("1003", 1)),
            ),
            QueueSpec(
                "support",
                "rrmemory",
                timeout=4,
                retry=1,
                wrapuptime=1,
                servicelevel=30,
                members=(MemberSpec("1003"), MemberSpec("1004")),
            ),
        ),
    )
