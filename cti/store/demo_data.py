"""The seeded demo data set: generated, never downloaded. Pure and deterministic.

``customers(seed, count)`` always returns the same customers for the same arguments (on every machine:
``random.Random`` with a string seed is stable across runs and platforms), and so do ``orders``,
``tickets`` and ``calls`` for the same ``now``. About 60% of the customers are Chinese (names in Chinese
characters, +86 mobiles and Beijing/Shanghai/Guangzhou/Shenzhen landlines), the rest English-speaking
(US numbers) with some accented names. A few numbers are shared by two customers (a company
switchboard), and two customers carry hostile-looking names (HTML, SQL) on purpose, because caller names
are attacker-controlled and every screen must show them as text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg
from cti.store.customers import NewCustomer

DAY = 86400.0
PASSWORD = "demo"


@dataclass(frozen=True, slots=True)
class AgentSpec:
    username: str
    role: str
    member_name: str | None
    interface: str
    display_name: str
    extension: str
    skills: tuple[tuple[str, int], ...] = ()


AGENTS = (
    AgentSpec(
        "alice",
        "agent",
        "Alice",
        "Local/1001@agents/n",
        "Alice Zhang",
        "1001",
        (("sales", 8), ("mandarin", 9)),
    ),
    AgentSpec("bob", "agent", "Bob", "Local/1002@agents/n", "Bob Li", "1002", (("sales", 5), ("english", 8))),
    AgentSpec(
        "carol",
        "agent",
        "Carol",
        "Local/1003@agents/n",
        "Carol Chen",
        "1003",
        (("support", 9), ("mandarin", 8)),
    ),
    AgentSpec(
        "dave", "agent", "Dave", "Local/1004@agents/n", "Dave Smith", "1004", (("support", 6), ("english", 9))
    ),
    AgentSpec(
        "erin",
        "agent",
        "Erin",
        "Local/1005@agents/n",
        "Erin Wu",
        "1005",
        (("sales", 4), ("support", 4), ("mandarin", 6), ("english", 6)),
    ),
    AgentSpec(
        "frank",
        "agent",
        "Frank",
        "Local/1006@agents/n",
        "Frank Miller",
        "1006",
        (("support", 3), ("english", 7)),
    ),
    AgentSpec(
        "super", "supervisor", None, "PJSIP/2001", "Sam Supervisor", "2001"
    ),  # the phone to listen in on
)


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    display_name: str
    skill: str


QUEUES = (QueueSpec("sales", "Sales 销售", "sales"), QueueSpec("support", "Support 客服", "support"))
MEMBERS = ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank")

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官")
GIVEN = (
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "文",
    "华",
    "金凤",
    "志强",
    "晓东",
    "海燕",
    "子轩",
    "梓涵",
    "浩然",
    "欣怡",
    "宇",
    "婷",
    "鹏",
    "佳琪",
    "思远",
    "雪",
)
FIRST = (
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark Sandra Steven "
    "Ashley Paul Emily Andrew Donna Joshua Michelle Kevin Amanda Brian Melissa George Deborah"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker "
    "Young Allen King Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts"
).split()
ACCENTED = (
    ("José Álvarez", "es-ES"),
    ("Zoë Müller", "de-DE"),
    ("François Lefèvre", "fr-FR"),
    ("Renée Ødegaard", "nb-NO"),
    ("Björn Åström", "sv-SE"),
    ("Chloé Dubois", "fr-FR"),
    ("Łukasz Wóźniak", "pl-PL"),
    ("Ana Conceição", "pt-PT"),
    ("Søren Kierkegård", "da-DK"),
    ("Nuño Peña", "es-ES"),
)
HOSTILE = {
    41: "<img src=x onerror=alert('pop')>",
    97: "Robert'); DROP TABLE customers;--",
}
CN_COMPANY = ("华信科技", "东方贸易", "长城物流", "金桥电子", "瑞丰食品", "鼎盛建材", "新元医药", "天成咨询")
CN_CITY = (("北京", "10"), ("上海", "21"), ("广州", "20"), ("深圳", "755"))
EN_COMPANY = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Supplies",
    "Stark Logistics",
    "Wayne Foods",
    "Hooli",
)
US_AREA = ("212", "415", "646", "312", "617", "206", "512", "303", "404", "702")
CN_MOBILE = ("135", "136", "137", "138", "139", "150", "151", "158", "186", "188", "189", "177")
OWNERS = ("王经理", "Linda Chen", "张伟", "Mark Davis", "刘芳", "Olivia Brown")
TAGS = ("vip", "wholesale", "retail", "partner", "newsletter", "enterprise", "smb", "renewal-due")
LIFECYCLE_WEIGHTS = (("target", 10), ("prospect", 20), ("opportunity", 15), ("signed", 10), ("customer", 45))
NOTES_ZH = ("喜欢下午联系", "需要发票", "对价格敏感", "老客户，服务要周到", "")
NOTES_EN = (
    "Prefers afternoon calls",
    "Needs invoices by e-mail",
    "Price sensitive",
    "Long-time customer",
    "",
)
DISPOSITIONS = (
    ("resolved", "问题已解决", "Issue resolved"),
    ("sale", "下单成功", "Placed an order"),
    ("callback", "需要回电", "Call back tomorrow"),
    ("info", "咨询产品信息", "Asked about pricing"),
    ("complaint", "投诉送货延迟", "Complained about late delivery"),
)
COMPLAINT_CATEGORIES = ("delivery", "billing", "product-quality", "service")
TICKET_CATEGORIES = ("installation", "return", "technical", "account")


@dataclass(frozen=True, slots=True)
class DemoOrder:
    customer_ref: str
    amount_cents: int
    currency: str
    placed_at: float
    description: str


@dataclass(frozen=True, slots=True)
class DemoTicket:
    customer_ref: str
    kind: str
    subject: str
    description: str
    status: str
    category: str
    priority: str
    owner: str
    due_at: float | None
    escalation_level: int
    opened_at: float
    closed_at: float | None


@dataclass(frozen=True, slots=True)
class DemoCall:
    customer_ref: str
    journey: CallJourney
    disposition: str
    notes: str


@dataclass(frozen=True, slots=True)
class DemoData:
    customers: list[NewCustomer]
    orders: list[DemoOrder] = field(default_factory=list)
    tickets: list[DemoTicket] = field(default_factory=list)
    calls: list[DemoCall] = field(default_factory=list)
    dnc_numbers: list[str] = field(default_factory=list)


def _chinese(rng: random.Random) -> bool:
    return rng.random() < 0.6


def _cn_mobile(rng: random.Random) -> tuple[str, str]:
    digits = rng.choice(CN_MOBILE) + f"{rng.randrange(10**8):08d}"
    shown = rng.choice((f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}", f"+86-{digits}", f"+86{digits}"))
    return "+86" + digits, shown


def _cn_landline(rng: random.Random) -> tuple[str, str]:
    _, area = rng.choice(CN_CITY)
    local = f"{rng.randrange(2, 9)}{rng.randrange(10**7):07d}"  # 8-digit local numbers in these cities
    return f"+86{area}{local}", f"+86 {area} {local[:4]} {local[4:]}"


def _us_number(rng: random.Random) -> tuple[str, str]:
    area = rng.choice(US_AREA)
    exchange = rng.randrange(200, 1000)
    while exchange % 100 == 11 or exchange == 555:
        exchange = rng.randrange(200, 1000)
    line = rng.randrange(10000)
    shown = rng.choice(
        (
            f"+1 ({area}) {exchange}-{line:04d}",
            f"+1-{area}-{exchange}-{line:04d}",
            f"+1{area}{exchange}{line:04d}",
        )
    )
    return f"+1{area}{exchange}{line:04d}", shown


def customers(seed: int, count: int) -> list[NewCustomer]:
    """``count`` demo customers, the same ones for the same ``seed``; ``external_ref`` is ``demo-NNNNNN``."""
    rng = random.Random(f"customers:{seed}")
    used: set[str] = set()
    result: list[NewCustomer] = []
    lifecycles = [name for name, weight in LIFECYCLE_WEIGHTS for _ in range(weight)]
    for i in range(count):
        chinese = _chinese(rng)
        if chinese:
            surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.02 else rng.choice(SURNAMES)
            name, language = surname + rng.choice(GIVEN), "zh-CN"
            email = f"c{i + 1}@example.cn"
            company = (
                rng.choice(CN_CITY)[0] + rng.choice(CN_COMPANY) + "有限公司" if rng.random() < 0.5 else ""
            )
            notes = rng.choice(NOTES_ZH)
        else:
            if rng.random() < 0.08:
                name, language = rng.choice(ACCENTED)
            else:
                name, language = f"{rng.choice(FIRST)} {rng.choice(LAST)}", "en-US"
            email = f"{name.split()[0].lower()}.{i + 1}@example.com"
            company = rng.choice(EN_COMPANY) if rng.random() < 0.5 else ""
            notes = rng.choice(NOTES_EN)
        name = HOSTILE.get(i, name)
        numbers: list[str] = []
        for kind in ("main", "extra") if rng.random() < 0.2 else ("main",):
            while True:
                if chinese:
                    e164, shown = _cn_landline(rng) if kind == "extra" else _cn_mobile(rng)
                else:
                    e164, shown = _us_number(rng)
                if e164 not in used:
                    used.add(e164)
                    numbers.append(shown)
                    break
        if i % 250 == 249 and result:
            # a switchboard shared with the previous customer: lookups by it return both
            previous = result[-1]
            numbers.append(previous.phones[0])
            company = previous.company or company or "Shared Switchboard Ltd"
        result.append(
            NewCustomer(
                name=name,
                phones=tuple(numbers),
                company=company,
                email=email,
                owner=rng.choice(OWNERS),
                language=language,
                tags=tuple(sorted(rng.sample(TAGS, rng.randrange(0, 4)))),
                lifecycle=rng.choice(lifecycles),
                notes=notes,
                external_ref=f"demo-{i + 1:06d}",
                do_not_call=rng.random() < 0.02,
                dnc_source="customer request",
            )
        )
    return result


def orders(seed: int, people: list[NewCustomer], now: float) -> list[DemoOrder]:
    """Orders over the two years before ``now``; spend is heavy-tailed, so tiers A/B/C are meaningful."""
    rng = random.Random(f"orders:{seed}")
    result: list[DemoOrder] = []
    for c in people:
        buyer = c.lifecycle in ("signed", "customer")
        count = rng.randrange(1, 16) if buyer else (1 if rng.random() < 0.1 else 0)
        scale = rng.paretovariate(1.5)
        currency = "CNY" if c.language == "zh-CN" else "USD"
        for _ in range(count):
            result.append(
                DemoOrder(
                    customer_ref=c.external_ref or "",
                    amount_cents=int(rng.lognormvariate(6.5, 0.8) * scale) * 100,
                    currency=currency,
                    placed_at=float(int(now - rng.uniform(0, 730) * DAY)),
                    description=rng.choice(("订购", "Order", "续约 Renewal", "Upgrade")),
                )
            )
    return result


def tickets(seed: int, people: list[NewCustomer], now: float) -> list[DemoTicket]:
    """Complaints (about 8% of customers) and service tickets (about 10%); many still open."""
    rng = random.Random(f"tickets:{seed}")
    result: list[DemoTicket] = []
    for c in people:
        for kind, share, categories in (
            ("complaint", 0.08, COMPLAINT_CATEGORIES),
            ("ticket", 0.10, TICKET_CATEGORIES),
        ):
            if rng.random() >= share:
                continue
            opened = float(int(now - rng.uniform(0, 200) * DAY))
            status = rng.choice(("open", "open", "in_progress", "escalated", "resolved", "closed"))
            closed = (
                None if status in ("open", "in_progress", "escalated") else opened + rng.uniform(1, 20) * DAY
            )
            category = rng.choice(categories)
            result.append(
                DemoTicket(
                    customer_ref=c.external_ref or "",
                    kind=kind,
                    subject=f"{category}: {'投诉' if c.language == 'zh-CN' else 'case'} #{len(result) + 1}",
                    description="",
                    status=status,
                    category=category,
                    priority=rng.choice(("low", "normal", "normal", "high", "urgent")),
                    owner=rng.choice(OWNERS),
                    due_at=opened + rng.choice((2, 5, 10)) * DAY,
                    escalation_level=2 if status == "escalated" else rng.choice((0, 0, 0, 1)),
                    opened_at=opened,
                    closed_at=min(closed, now) if closed is not None else None,
                )
            )
    return result


def calls(seed: int, people: list[NewCustomer], now: float) -> list[DemoCall]:
    """Past calls (the last 180 days), as the call journeys the daemon would have recorded."""
    rng = random.Random(f"calls:{seed}")
    result: list[DemoCall] = []
    n = 0
    for c in people:
        number = c.phones[0] if c.phones else ""
        chinese = c.language == "zh-CN"
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 4, 5))):
            n += 1
            start = float(int(now - rng.uniform(0.1, 180) * DAY))
            linkedid = LinkedId(f"demo-{seed}-{n}")
            member = AgentId(rng.choice(MEMBERS))
            if rng.random() < 0.75:
                journey = _inbound(rng, linkedid, start, number, c.name, member)
            else:
                journey = _outbound(rng, linkedid, start, number, member)
            disposition = notes = ""
            if journey.outcome is JourneyOutcome.ANSWERED:
                disposition, zh, en = rng.choice(DISPOSITIONS)
                notes = zh if chinese else en
            result.append(DemoCall(c.external_ref or "", journey, disposition, notes))
    return result


def _inbound(
    rng: random.Random, linkedid: LinkedId, start: float, number: str, name: str, member: AgentId
) -> CallJourney:
    queue = QueueName(rng.choice(("sales", "support")))
    wait = round(rng.uniform(2, 90), 3)
    answered = rng.random() < 0.85
    leg = QueueLeg(queue=queue, uniqueid=UniqueId(f"{linkedid}.1"), entered_at=start + 3.0, position=1)
    leg.left_at = leg.entered_at + wait
    leg.wait_seconds = wait
    if answered:
        talk = round(rng.uniform(30, 900), 3)
        leg.outcome, leg.agent, leg.answered_at = LegOutcome.ANSWERED, member, leg.left_at
        leg.talk_seconds, leg.ended_at = talk, leg.left_at + talk
        end = leg.ended_at
    else:
        leg.outcome, end = LegOutcome.ABANDONED, leg.left_at
    return CallJourney(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        started_at=start,
        caller_number=number,
        caller_name=name,
        did="+864008001234",
        ended_at=end,
        outcome=JourneyOutcome.ANSWERED if answered else JourneyOutcome.ABANDONED,
        queue_legs=[leg],
        agents=[member] if answered else [],
        hangup_cause=16,
        server="pbx1",
    )


def _outbound(
    rng: random.Random, linkedid: LinkedId, start: float, number: str, member: AgentId
) -> CallJourney:
    answered = rng.random() < 0.6
    return CallJourney(
        linkedid=linkedid,
        direction=Direction.OUTBOUND,
        started_at=start,
        caller_number=str(member),
        did=number,
        ended_at=start + (rng.uniform(60, 600) if answered else rng.uniform(15, 40)),
        outcome=JourneyOutcome.ANSWERED if answered else JourneyOutcome.NO_ANSWER,
        agents=[member],
        hangup_cause=16 if answered else 19,
        server="pbx1",
    )


def dnc_numbers(seed: int, people: list[NewCustomer]) -> list[str]:
    """A small national do-not-call list: about 1% of the customers' numbers and some strangers'."""
    rng = random.Random(f"dnc:{seed}")
    listed = [c.phones[0] for c in people if c.phones and rng.random() < 0.01]
    listed += [_cn_mobile(rng)[0] for _ in range(max(1, len(people) // 200))]
    return listed


def generate(seed: int, count: int, now: float) -> DemoData:
    people = customers(seed, count)
    return DemoData(
        customers=people,
        orders=orders(seed, people, now),
        tickets=tickets(seed, people, now),
        calls=calls(seed, people, now),
        dnc_numbers=dnc_numbers(seed, people),
    )
