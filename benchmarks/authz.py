"""Latency of one authorization check as the number of grants grows, next to plain Casbin.

Why this exists: the goal is that a check stay fast however many grants the metastore
holds (p99 under 50 µs at 1M grants, and within 2× of the figure at 1k). A check here is
exactly what a route pays in ``catalog.access.authorizer.Authorizer.require_privilege``: one
``PolicyEngine.view`` of the caller's grants on a four-node chain (metastore > catalog >
schema > table), then ``policy.privileges.decide``, which asks the view once per gate and
once for the privilege. The peer is a plain ``casbin.Enforcer`` on the same
``policy/model.conf`` with the same kind of facts, measured in the same run at sizes it can
survive (it evaluates the matcher against every grant on every call).

    .venv/bin/python -m benchmarks.authz
    .venv/bin/python -m benchmarks.authz --grants 1000 100000 --casbin-grants 1000 --checks 5000

Facts: ``--users`` users, ``--groups`` groups nested three deep (user ∈ leaf ∈ middle ∈ top),
``--securables`` securables (``--catalogs`` catalogs, ``--schemas`` schemas, the rest
tables), then for each grant count a fresh random set of grants. Part of the grants come in
*bundles* (USE CATALOG + USE SCHEMA + SELECT for one principal down to one table), so
that checks drawn from them are allowed; the rest are single random grants of applicable
privileges, ALL PRIVILEGES and MANAGE included. Checks are a fixed mix: 40% SELECT through a
bundle (allowed), 20% MODIFY through a bundle (gates pass, then denied), 40% a random
privilege on a random table for a random user (mostly denied at the first gate).

The heap is collected and frozen (``gc.freeze``) after each load, so a full collection of
millions of long-lived objects does not land inside a timed check; that pause is a property
of the process's heap, not of the check, and a server would freeze after start-up the same
way.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import platform
import pstats
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import casbin

from policy.enforcer import MODEL_PATH, Grant, PolicyEngine
from policy.privileges import APPLICABLE, Node, Subject, decide
from policy.securables import Privilege, SecurableType

P = Privilege
T = SecurableType
GOAL_P99_US = 50.0
GOAL_RATIO = 2.0
METASTORE = "metastore"


# -- facts -----------------------------------------------------------------------------------


@dataclass
class Directory:
    """Principals and securables shared by every grant count."""

    users: list[str]
    groups: list[str]
    memberships: list[tuple[str, str]]
    groups_of: dict[str, frozenset[str]]  # user → every group it reaches
    members_of: dict[str, list[str]]  # group → users that reach it
    parents: list[tuple[str, str]]
    catalogs: list[str]
    schemas: list[str]
    tables: list[str]
    parent: dict[str, str] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)

    def chain(self, table: str) -> list[Node]:
        schema = self.parent[table]
        catalog = self.parent[schema]
        return [
            Node(METASTORE, T.METASTORE, self.owner[METASTORE], METASTORE),
            Node(catalog, T.CATALOG, self.owner[catalog], catalog),
            Node(schema, T.SCHEMA, self.owner[schema], schema),
            Node(table, T.TABLE, self.owner[table], table),
        ]


def build_directory(
    rnd: random.Random, users: int, groups: int, catalogs: int, schemas: int, securables: int
) -> Directory:
    """Three levels of groups (10% top, 30% middle, 60% leaf), each user in two leaf groups."""
    user_names = [f"user{i:05d}" for i in range(users)]
    top = [f"top{i:04d}" for i in range(max(1, groups // 10))]
    middle = [f"mid{i:04d}" for i in range(max(1, groups * 3 // 10))]
    leaf = [f"leaf{i:04d}" for i in range(max(1, groups - len(top) - len(middle)))]
    memberships: list[tuple[str, str]] = []
    up: dict[str, str] = {}
    for group in middle:
        up[group] = rnd.choice(top)
    for group in leaf:
        up[group] = rnd.choice(middle)
    memberships += list(up.items())
    groups_of: dict[str, frozenset[str]] = {}
    members_of: dict[str, list[str]] = {}
    for user in user_names:
        reached: set[str] = set()
        for group in rnd.sample(leaf, min(2, len(leaf))):
            memberships.append((user, group))
            while group is not None and group not in reached:
                reached.add(group)
                group = up.get(group)  # type: ignore[assignment]
        groups_of[user] = frozenset(reached)
        for group in reached:
            members_of.setdefault(group, []).append(user)
    catalog_keys = [f"cat{i:03d}" for i in range(catalogs)]
    schema_keys = [f"sch{i:04d}" for i in range(schemas)]
    table_keys = [f"tbl{i:06d}" for i in range(securables - catalogs - schemas)]
    parent = {c: METASTORE for c in catalog_keys}
    parent.update({s: catalog_keys[i % catalogs] for i, s in enumerate(schema_keys)})
    parent.update({t: schema_keys[i % schemas] for i, t in enumerate(table_keys)})
    owner = {key: rnd.choice(user_names) for key in [METASTORE, *parent]}
    return Directory(
        users=user_names,
        groups=top + middle + leaf,
        memberships=memberships,
        groups_of=groups_of,
        members_of=members_of,
        parents=list(parent.items()),
        catalogs=catalog_keys,
        schemas=schema_keys,
        tables=table_keys,
        parent=parent,
        owner=owner,
    )


@dataclass
class Facts:
    grants: list[Grant]
    bundles: list[tuple[str, str]]  # (principal, table) with USE CATALOG + USE SCHEMA + SELECT


def build_grants(rnd: random.Random, d: Directory, count: int) -> Facts:
    """``count`` distinct grants: 40% in bundles, the rest single random applicable grants."""
    lines: set[tuple[str, str, str]] = set()
    bundles: list[tuple[str, str]] = []
    principals = d.users + d.groups
    while len(lines) < count * 0.4 - 2:
        principal = rnd.choice(d.users) if rnd.random() < 0.5 else rnd.choice(d.groups)
        table = rnd.choice(d.tables)
        schema = d.parent[table]
        lines.update(
            {
                (principal, d.parent[schema], P.USE_CATALOG.value),
                (principal, schema, P.USE_SCHEMA.value),
                (principal, table, P.SELECT.value),
            }
        )
        bundles.append((principal, table))
    kinds = (
        (T.TABLE, d.tables, 0.90),
        (T.SCHEMA, d.schemas, 0.98),
        (T.CATALOG, d.catalogs, 1.0),
    )
    privileges = {t: sorted(p.value for p in APPLICABLE[t]) for t in (T.TABLE, T.SCHEMA, T.CATALOG)}
    while len(lines) < count:
        principal = rnd.choice(d.users) if rnd.random() < 0.7 else rnd.choice(principals)
        pick = rnd.random()
        securable_type, keys = next((t, k) for t, k, upto in kinds if pick < upto)
        lines.add((principal, rnd.choice(keys), rnd.choice(privileges[securable_type])))
    return Facts([Grant(*line) for line in lines], bundles)


Check = tuple[Subject, Privilege, list[Node]]


def build_checks(rnd: random.Random, d: Directory, facts: Facts, count: int) -> list[Check]:
    """The fixed mix of allowed and denied checks described in the module docstring."""
    subjects = {u: Subject(u, d.groups_of[u], False) for u in d.users}
    table_privileges = sorted(APPLICABLE[T.TABLE])
    checks: list[Check] = []
    for _ in range(count):
        kind = rnd.random()
        if kind < 0.6 and facts.bundles:
            principal, table = rnd.choice(facts.bundles)
            members = d.members_of.get(principal)
            user = rnd.choice(members) if members else principal
            if user not in subjects:  # a group nobody is in: ask as some user instead
                user = rnd.choice(d.users)
            privilege = P.SELECT if kind < 0.4 else P.MODIFY
        else:
            user, table = rnd.choice(d.users), rnd.choice(d.tables)
            privilege = rnd.choice(table_privileges)
        checks.append((subjects[user], privilege, d.chain(table)))
    return checks


# -- engines ---------------------------------------------------------------------------------


def load_steward(d: Directory, facts: Facts) -> PolicyEngine:
    engine = PolicyEngine()
    engine.load(facts.grants, d.memberships, d.parents)
    return engine


def load_plain_casbin(d: Directory, facts: Facts) -> casbin.Enforcer:
    """Straight into the model's policy lists, then one pass to link roles: adding lines one
    by one checks each against all before it, which is quadratic."""
    enforcer = casbin.Enforcer(str(MODEL_PATH))
    enforcer.enable_auto_build_role_links(False)
    model = enforcer.model.model
    model["p"]["p"].policy.extend([g.principal, g.securable, g.privilege] for g in facts.grants)
    model["g"]["g"].policy.extend(list(pair) for pair in d.memberships)
    model["g"]["g2"].policy.extend(list(pair) for pair in d.parents)
    enforcer.build_role_links()
    return enforcer


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Result:
    engine: str
    grants: int
    load_s: float
    checks: int
    allowed: int
    p50_us: float
    p99_us: float
    decisions: list[bool]
    #: The same percentiles of the checking thread's CPU time: what a check costs without
    #: the time the OS gave other processes on a shared machine.
    cpu_p50_us: float = 0.0
    cpu_p99_us: float = 0.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest rank."""
    index = max(0, min(len(sorted_values) - 1, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


#: One whole authorization check: subject, privilege, chain → allowed.
Checker = Callable[[Subject, Privilege, list[Node]], bool]


def steward_checker(engine: PolicyEngine) -> Checker:
    """What ``Authorizer.require_privilege`` does once it has the chain."""

    def check(subject: Subject, privilege: Privilege, chain: list[Node]) -> bool:
        view = engine.view(subject.name, chain[-1].key)
        return decide(subject, privilege, chain, view.granted).allowed

    return check


def casbin_checker(enforcer: casbin.Enforcer) -> Checker:
    """The same decision with plain Casbin answering every grant question."""

    def check(subject: Subject, privilege: Privilege, chain: list[Node]) -> bool:
        return decide(subject, privilege, chain, enforcer.enforce).allowed

    return check


def measure(
    name: str,
    grants: int,
    load_s: float,
    check: Checker,
    warm: list[Check],
    timed: list[Check],
) -> Result:
    """Time ``check`` on each of ``timed`` alone, after running ``warm`` untimed."""
    for subject, privilege, chain in warm:
        check(subject, privilege, chain)
    timings: list[float] = []
    cpu_timings: list[float] = []
    decisions: list[bool] = []
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for subject, privilege, chain in timed:
        cpu_start = cpu_clock()
        start = clock()
        allowed = check(subject, privilege, chain)
        end = clock()
        cpu_timings.append((cpu_clock() - cpu_start) / 1000)
        timings.append((end - start) / 1000)
        decisions.append(allowed)
    timings.sort()
    cpu_timings.sort()
    return Result(
        name,
        grants,
        load_s,
        len(timings),
        sum(decisions),
        percentile(timings, 0.50),
        percentile(timings, 0.99),
        decisions,
        percentile(cpu_timings, 0.50),
        percentile(cpu_timings, 0.99),
    )


def profile(check: Checker, checks: list[Check], title: str) -> str:
    """cProfile over the checks; the functions that take the time, by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for subject, privilege, chain in checks:
        check(subject, privilege, chain)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(18)
    return f"\n### cProfile: {title}, {len(checks)} checks, by own time\n" + out.getvalue()


def settle() -> None:
    gc.collect()
    gc.freeze()


def unsettle() -> None:
    gc.unfreeze()
    gc.collect()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    log("building principals and securables…")
    d = build_directory(
        random.Random(args.seed),
        args.users,
        args.groups,
        args.catalogs,
        args.schemas,
        args.securables,
    )
    results: list[Result] = []
    profiles: list[str] = []
    steward_sizes, plain_sizes = set(args.grants), set(args.casbin_grants)
    for count in sorted(steward_sizes | plain_sizes):
        t0 = time.perf_counter()
        facts = build_grants(random.Random(args.seed + count), d, count)
        checks = build_checks(random.Random(args.seed - count), d, facts, args.warmup + args.checks)
        warm, timed = checks[: args.warmup], checks[args.warmup :]
        log(f"{count:>9,} grants: facts and checks built in {time.perf_counter() - t0:.1f} s")
        steward: Result | None = None
        if count in steward_sizes:
            t0 = time.perf_counter()
            engine = load_steward(d, facts)
            load_s = time.perf_counter() - t0
            settle()
            steward = measure("Steward", count, load_s, steward_checker(engine), warm, timed)
            results.append(steward)
            log(
                f"  Steward: load {load_s:.1f} s, p50 {steward.p50_us:.1f} µs, "
                f"p99 {steward.p99_us:.1f} µs (CPU {steward.cpu_p50_us:.1f} / "
                f"{steward.cpu_p99_us:.1f} µs)"
            )
            if args.profile == "always" or (
                args.profile == "auto" and count == max(steward_sizes) and not goal_met(results)
            ):
                title = f"Steward (PolicyEngine.view + decide), {count:,} grants"
                checker = steward_checker(engine)
                profiles.append(profile(checker, timed[: args.profile_checks], title))
            del engine
            unsettle()
        if count in plain_sizes:
            t0 = time.perf_counter()
            enforcer = load_plain_casbin(d, facts)
            load_s = time.perf_counter() - t0
            settle()
            # Its cost grows with the grants: keep each size to a similar time budget.
            n = max(100, args.casbin_checks * 1000 // count)
            plain = measure(
                "plain Casbin", count, load_s, casbin_checker(enforcer), warm[:10], timed[:n]
            )
            results.append(plain)
            log(
                f"  plain Casbin: load {load_s:.1f} s, p50 {plain.p50_us:.1f} µs, "
                f"p99 {plain.p99_us:.1f} µs ({plain.checks} checks)"
            )
            if steward is not None and steward.decisions[:n] != plain.decisions:
                raise SystemExit(f"Steward and plain Casbin disagree at {count:,} grants")
            if args.profile == "always" or (args.profile == "auto" and count == max(plain_sizes)):
                title = f"plain Casbin (enforce), {count:,} grants"
                profiles.append(profile(casbin_checker(enforcer), timed[:10], title))
            del enforcer
            unsettle()
        del facts, checks, warm, timed
    print_report(args, results, profiles, time.perf_counter() - started)
    return 0


def goal_met(results: list[Result]) -> bool:
    steward = sorted((r for r in results if r.engine == "Steward"), key=lambda r: r.grants)
    if not steward:
        return True
    first, last = steward[0], steward[-1]
    return last.p99_us < GOAL_P99_US and last.p99_us <= GOAL_RATIO * first.p99_us


def print_report(
    args: argparse.Namespace, results: list[Result], profiles: list[str], elapsed: float
) -> None:
    steward = {r.grants: r for r in results if r.engine == "Steward"}
    base = steward[min(steward)] if steward else None
    header = (
        "| engine | grants | load s | checks | allowed | p50 µs | p99 µs | CPU p50 µs "
        "| CPU p99 µs | p50 / 1k | p99 / 1k | plain/Steward p50 | plain/Steward p99 |"
    )
    print(
        f"\nMachine: nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"pycasbin {casbin_version()}; {args.users:,} users, {args.groups:,} groups "
        f"(3 deep), {args.securables:,} securables ({args.catalogs} catalogs, "
        f"{args.schemas:,} schemas); seed {args.seed}; {elapsed:.0f} s in all\n"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in sorted(results, key=lambda r: (r.engine != "Steward", r.grants)):
        scale = ("", "")
        if r.engine == "Steward" and base is not None:
            scale = (f"{r.p50_us / base.p50_us:.2f}", f"{r.p99_us / base.p99_us:.2f}")
        versus = ("", "")
        if r.engine != "Steward" and r.grants in steward:
            s = steward[r.grants]
            versus = (f"{r.p50_us / s.p50_us:,.0f}×", f"{r.p99_us / s.p99_us:,.0f}×")
        print(
            f"| {r.engine} | {r.grants:,} | {r.load_s:.1f} | {r.checks:,} "
            f"| {100 * r.allowed / r.checks:.0f}% | {r.p50_us:,.1f} | {r.p99_us:,.1f} "
            f"| {r.cpu_p50_us:,.1f} | {r.cpu_p99_us:,.1f} "
            f"| {scale[0]} | {scale[1]} | {versus[0]} | {versus[1]} |"
        )
    if steward and base is not None:
        top = steward[max(steward)]
        print(
            f"\nGoal: p99 under {GOAL_P99_US:.0f} µs at {top.grants:,} grants and within "
            f"{GOAL_RATIO:.0f}× of the {base.grants:,} figure: p99 {top.p99_us:.1f} µs "
            f"({top.p99_us / GOAL_P99_US:.2f} of the goal), {top.p99_us / base.p99_us:.2f}× "
            f"the {base.grants:,} figure: {'MET' if goal_met(results) else 'MISSED'}"
        )
        cpu_met = top.cpu_p99_us < GOAL_P99_US and top.cpu_p99_us <= GOAL_RATIO * base.cpu_p99_us
        print(
            f"Same goal on the checking thread's CPU time (what the check itself costs, "
            f"whatever else the machine runs): p99 {top.cpu_p99_us:.1f} µs, "
            f"{top.cpu_p99_us / base.cpu_p99_us:.2f}× the {base.grants:,} figure: "
            f"{'MET' if cpu_met else 'MISSED'}"
        )
    for text in profiles:
        print(text)


def casbin_version() -> str:
    from importlib.metadata import version

    return version("pycasbin")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.authz", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--grants",
        type=int,
        nargs="+",
        default=[1_000, 10_000, 100_000, 1_000_000],
        help="grant counts to measure Steward at (the smallest is the reference)",
    )
    parser.add_argument(
        "--casbin-grants",
        type=int,
        nargs="*",
        default=[1_000, 10_000],
        help="grant counts to measure plain Casbin at",
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--securables", type=int, default=100_000)
    parser.add_argument("--catalogs", type=int, default=100)
    parser.add_argument("--schemas", type=int, default=1_000)
    parser.add_argument("--checks", type=int, default=50_000, help="timed checks per size")
    parser.add_argument("--warmup", type=int, default=2_000, help="untimed checks first")
    parser.add_argument(
        "--casbin-checks",
        type=int,
        default=1_000,
        help="timed plain-Casbin checks at 1k grants (scaled down as 1/grants, at least 100)",
    )
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="cProfile the checks (auto: Steward at its largest size if the goal is missed, "
        "plain Casbin at its largest size)",
    )
    parser.add_argument("--profile-checks", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args(argv)
    if args.catalogs + args.schemas >= args.securables:
        parser.error("--securables must exceed --catalogs + --schemas (the rest are tables)")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
