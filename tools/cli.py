"""The `tradeactors` command line."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar
from wsgiref.simple_server import WSGIServer

import attrs
import pykka

from actors.broker import BrokerError, Page
from actors.event_bus import EventBusActor
from actors.execution import ExecutionActor
from actors.journal import JournalActor, JournalConfig
from actors.journal_store import Durability, JournalStoreError, storage_advice
from actors.market import MarketActor
from actors.order import OrderActor
from actors.position import PositionActor
from actors.position_index import PositionIndexActor
from actors.risk import RiskActor
from actors.strategy import Evaluate, StrategyActor
from bridges.data_dir_lock import DataDirError
from bridges.feed_codec import FeedError, FeedRecord, read_feed
from bridges.feed_player import FeedPace, replay
from bridges.journal_preflight import remove_files
from bridges.metrics_exporter import DEFAULT_ADDRESS as METRICS_ADDRESS
from bridges.metrics_exporter import DEFAULT_PORT as METRICS_PORT
from bridges.metrics_exporter import serve_metrics
from bridges.paper_broker_store import PAPER_BROKER_FILE
from bridges.parquet_snapshots import DEFAULT_INTERVAL_S, PositionSnapshotRecorder
from bridges.polymarket_credentials import CredentialsError
from bridges.simulated_broker import SimulatedBroker
from bridges.simulated_venue import SimulatedVenueActor
from bridges.zmq_protocol import DEFAULT_MAX_FRAME
from bridges.zmq_server import DEFAULT_COMMANDS, DEFAULT_EVENTS, CurveConfig
from messages.risk import RiskLimits
from supervisors.assembly.market_lifecycle import MarketLifecycleActor
from supervisors.assembly.risk_config import RiskConfigError, limits_from_args
from supervisors.assembly.risk_config import add_flags as add_risk_flags
from supervisors.assembly.runtime import JOURNAL_FILE, Runtime, RuntimeConfig, RuntimeDownError
from supervisors.assembly.runtime_config import FILL_SCHEDULES, BrokerConfig
from supervisors.assembly.zmq_edge import DEFAULT_HEARTBEAT_S, ZmqEdge
from supervisors.kernel.base import RuntimeActor
from supervisors.kernel.scheduler import REAL_SCHEDULER
from supervisors.kernel.virtual_time import VirtualTimeKernel
from tools import (
    broker_choice,
    feedgen,
    journal_option,
    live_broker,
    live_venue,
    run_config,
    strategy_loader,
)
from tools.broker_verdict import broker_verdict
from tools.chaos import run_chaos
from tools.cli_types import CliParser, add_log_level, endpoint, positive_seconds
from tools.client_cli import add_commands as add_client_commands
from tools.cluster import add_cluster_command
from tools.console import positions_table
from tools.dashboard_live import RunView, Snapshot, open_view
from tools.export import add_export_command
from tools.logging_setup import configure_logging
from tools.progress import Progress
from tools.record import add_record_command
from tools.report import add_report_command
from tools.run_record import RUNS_FILE, record_run
from tools.shioaji_run import add_shioaji_flags, settlement_calendar, shioaji_broker
from tools.shutdown_deadline import ShutdownDeadline
from tools.verify import add_verify_command

if TYPE_CHECKING:
    from bridges.ib_broker import IbBroker
    from bridges.polymarket_clob_broker import PolymarketBroker
    from bridges.shioaji_broker import ShioajiBroker

    AnyBroker = SimulatedBroker | IbBroker | ShioajiBroker | PolymarketBroker
    """What ``--broker`` starts: each is closed at the run's end."""

SAMPLE_FEED = "sample_feed.jsonl.gz"
T = TypeVar("T")

EXIT_DATA_DIR = 3
"""Exit status when the data dir or its journal cannot be used (locked, not writable, full,
damaged): the message says which."""


def sample_feed_path() -> Path:
    """The bundled sample feed (installed with the package)."""
    return Path(str(resources.files("tools") / "data" / SAMPLE_FEED))


def _load_feed(args: argparse.Namespace) -> tuple[str, list[FeedRecord]]:
    """The feed the command names (or the bundled sample), read whole; FeedError if bad. A
    live venue's feed arrives as the run goes."""
    if live_venue.is_live(args):
        return live_venue.describe(args), []
    feed_path = Path(args.feed) if args.feed else sample_feed_path()
    return str(feed_path), list(read_feed(feed_path))


def _run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    out = sys.stdout
    inputs = _inputs(args, out)
    if inputs is None:
        return 2
    feed_path, records, limits, strategy = inputs
    deadline = ShutdownDeadline(args.shutdown_s, out)
    stop = _StopRequest(deadline).install()
    started = _start_runtime(args, limits, records, out, strategy)
    if started is None:
        return EXIT_DATA_DIR
    config, runtime, paper = started
    record_run(args, config, feed=feed_path, records=len(records), start=runtime.next_step)
    view: RunView | None = None
    try:
        # An edge that keeps dying stops the run, which then exits 1 (never trades on mute).
        edge, metrics = _start_services(args, runtime, on_down=lambda _: stop.requested.set())
    except (RuntimeError, OSError) as error:
        _stop_early(runtime, paper)
        out.write(f"tradeactors: {error} (choose other endpoints, or --no-zmq / --no-metrics)\n")
        return 2
    recorder = _start_recorder(args, runtime)
    try:
        start = runtime.next_step
        _announce(
            out, args, feed=feed_path, count=len(records), config=config, start=start, edge=edge
        )
        out.write(_nothing_left(args, start, len(records), config.data_dir))
        if not args.quiet:
            view = _open_view(args, out, runtime)
        sent = _replay(args, runtime, records, start, stop.requested)
        stop.check()
        if args.speed > 0:  # a lockstep replay ends quiet: clients may be busy from now on
            runtime.wait_idle(timeout_s=30.0)
        broker_report = (
            _settle_with_broker(runtime, paper, args.broker)
            if paper is not None and args.broker in VERDICT_BROKERS
            else ""
        )
        positions = runtime.positions()
        _hold(args, out, view, stop.requested, serving=edge is not None)
        stop.check()
    except (KeyboardInterrupt, _StopRequestedError):
        return _interrupted(out, runtime, view, edge)
    except (JournalStoreError, RuntimeDownError) as error:
        if view is not None:
            view.close()
        out.write(f"\ntradeactors: the runtime stopped: {error}; {storage_advice(str(error))}\n")
        return EXIT_DATA_DIR
    finally:
        _shut_down(
            deadline,
            runtime,
            edge=edge,
            metrics=metrics,
            view=view,
            paper=paper,
            recorder=recorder,
        )
    out.write(_fed(args, sent, start, len(records)))
    out.write(positions_table(positions) + "\n")
    out.write(broker_report)
    return 0


def _interrupted(out: TextIO, runtime: Runtime, view: RunView | None, edge: ZmqEdge | None) -> int:
    """A signal or a dead edge stopped the run: the terminal back, then say which (and exit 1
    for an edge that gave up, 130 for a signal)."""
    if view is not None:
        view.close()  # the terminal back before anything is said on it
    with contextlib.suppress(TimeoutError):
        runtime.wait_idle(timeout_s=5.0)
    if edge is not None and edge.down is not None:
        out.write(f"\ntradeactors: stopped: {edge.down}; the log says why\n")
        return 1
    out.write("\ntradeactors: interrupted; the journal keeps everything accepted so far\n")
    return 130


def _start_recorder(args: argparse.Namespace, runtime: Runtime) -> pykka.ActorRef[Any] | None:
    """``--parquet-snapshots``: the recorder hears the runtime first, then is handed every
    position as it is now; it keeps the newer version of each, so nothing falls between."""
    if args.parquet_snapshots is None:
        return None
    recorder = PositionSnapshotRecorder.start(
        Path(args.parquet_snapshots), interval_ns=round(args.parquet_every * 1e9)
    )
    runtime.subscribe(recorder)
    for position in runtime.positions():
        recorder.tell(position)
    return recorder


def _open_view(args: argparse.Namespace, out: TextIO, runtime: Runtime) -> RunView:
    """The run's view, on what the runtime already holds: a resumed run shows the journal's
    positions, orders and markets, not only what happens from now on. Seeded after it
    subscribes, so an event newer than the snapshot still counts (an older one changes
    nothing)."""
    view = open_view(out, plain=args.plain)
    try:
        runtime.subscribe(view.ref)
        held = Snapshot(
            positions=runtime.positions(), orders=runtime.orders(), markets=runtime.markets()
        )
        view.seed(held)
    except BaseException:
        view.close()
        raise
    return view


def _nothing_left(args: argparse.Namespace, start: int, count: int, data_dir: Path | None) -> str:
    """What to say when the journal has already taken every record this run would replay
    (a second run on the same data dir): else it replays nothing without a word of why."""
    end = count if args.records is None else min(count, args.records)
    if live_venue.is_live(args) or start == 0 or start < end:
        return ""
    return (
        f"tradeactors: the journal in {data_dir} has already taken the feed's first {start} "
        f"records, so there is nothing to replay; --fresh starts over\n"
    )


def _fed(args: argparse.Namespace, sent: int, start: int, count: int) -> str:
    if live_venue.is_live(args):
        return f"\n{sent} live records traded on (resumed at step {start})\n\n"
    return f"\n{sent} feed records replayed ({start + sent} of {count})\n\n"


def _start_runtime(
    args: argparse.Namespace,
    limits: RiskLimits,
    records: list[FeedRecord],
    out: TextIO,
    strategy: tuple[Evaluate, str],
) -> tuple[RuntimeConfig, Runtime, AnyBroker | None] | None:
    """The configured runtime (and its broker, if any), started; None (and why, one line on
    ``out``) if it cannot be."""
    try:
        broker = _paper_broker(args) or _real_broker(args)
    except (DataDirError, BrokerError, CredentialsError) as error:  # --fresh on a held dir
        out.write(f"tradeactors: cannot start: {error}\n")
        return None
    try:
        config = _config(args, limits, broker, strategy)
        runtime = Runtime(config).start(records)
        if args.broker == live_broker.POLYMARKET:
            live_broker.wire(broker, runtime)  # type: ignore[arg-type]  # --broker polymarket
        return config, runtime, broker
    except (DataDirError, RuntimeDownError) as error:
        if broker is not None:
            broker.close()
        out.write(f"tradeactors: cannot start: {error}\n")
        return None


def _stop_early(runtime: Runtime, broker: AnyBroker | None) -> None:
    """The runtime and its broker, when the run cannot go on to start."""
    runtime.stop()
    if broker is not None:
        broker.close()


def _shut_down(
    deadline: ShutdownDeadline,
    runtime: Runtime,
    *,
    edge: ZmqEdge | None,
    metrics: tuple[WSGIServer, threading.Thread] | None,
    view: RunView | None,
    paper: AnyBroker | None,
    recorder: pykka.ActorRef[Any] | None = None,
) -> None:
    """Stop everything the run started, each stage named for the shutdown's deadline."""
    deadline.arm()
    if metrics is not None:
        deadline.stage("the metrics server")
        metrics[0].shutdown()
        metrics[0].server_close()
    if edge is not None:
        deadline.stage("the ZeroMQ edge")
        edge.stop()
    deadline.stage("the runtime's actors (the journal's last commit and snapshot)")
    runtime.stop()
    if recorder is not None:
        deadline.stage("the Parquet position snapshots (the last one)")
        recorder.stop()
    if view is not None:
        deadline.stage("the live view")
        view.close()
    if paper is not None:
        deadline.stage("the broker")
        paper.close()
    deadline.stage("the process's remaining threads")
    deadline.disarm_if_done()


def _inputs(
    args: argparse.Namespace, out: TextIO
) -> tuple[str, list[FeedRecord], RiskLimits, tuple[Evaluate, str]] | None:
    """The feed, the risk limits and the strategy the flags name; None (and why, on ``out``)
    if bad."""
    try:
        if live_venue.is_live(args):
            live_venue.plan_of(args)
        if args.broker == "ib":
            broker_choice.check_ib_options(args)
        live_broker.check(args)
        feed_path, records = _load_feed(args)
    except FeedError as error:
        out.write(f"tradeactors: bad feed: {error}\n")
        return None
    except OSError as error:
        out.write(f"tradeactors: cannot read the feed {error.filename}: {error.strerror}\n")
        return None
    except ValueError as error:
        out.write(f"tradeactors: {error}\n")
        return None
    try:
        limits = limits_from_args(args)
    except RiskConfigError as error:
        out.write(f"tradeactors: bad risk limits: {error}\n")
        return None
    strategy = strategy_loader.from_args(args, out)
    if strategy is None:
        return None
    return feed_path, records, limits, strategy


def _announce(
    out: TextIO,
    args: argparse.Namespace,
    *,
    feed: str,
    count: int,
    config: RuntimeConfig,
    start: int,
    edge: ZmqEdge | None,
) -> None:
    out.write(
        f"tradeactors: feed {feed} ({count or 'live'} records), "
        f"journal {journal_option.name(args) or config.data_dir}, "
        + (
            "each record a lockstep step as it arrives"
            if live_venue.is_live(args)
            else f"speed {args.speed or 'max (lockstep)'}"
        )
        + (f", resuming at record {start}" if start else "")
        + "\n"
    )
    if edge is not None:
        out.write(
            f"tradeactors: commands on {edge.commands_endpoint}, events on {edge.events_endpoint}\n"
        )
    out.flush()


def _replay(
    args: argparse.Namespace,
    runtime: Runtime,
    records: list[FeedRecord],
    start: int,
    stop: threading.Event,
) -> int:
    """Feed the records from ``start`` (lockstep at ``--speed 0``), or a live venue's as they
    come; returns how many went."""
    if live_venue.is_live(args):
        return live_venue.drive_live(args, runtime, live_venue.plan_of(args), stop)
    end = len(records) if args.records is None else min(len(records), args.records)
    if args.speed <= 0 or runtime.kernel is not None:
        pace = FeedPace(args.speed) if args.speed > 0 else None
        runtime.replay(records, end=end, duration_s=args.duration, stop=stop, pace=pace)
        return runtime.next_step - start
    return replay(
        records[start:end], runtime.feed, speed=args.speed, duration_s=args.duration, stop=stop
    )


def _real_broker(args: argparse.Namespace) -> AnyBroker | None:
    """The real broker ``--broker`` names (logged in or connecting), or None."""
    if args.broker == "ib":
        return broker_choice.ib_broker(args)
    if args.broker == live_broker.POLYMARKET:
        return live_broker.broker_of(args)
    return shioaji_broker(args)


def _account(args: argparse.Namespace) -> str:
    """A real broker's account is the run's: the strategies and positions are booked to it;
    else the runtime's own (paper) account."""
    accounts = {"ib": "ib_account", "shioaji": "shioaji_account"}
    if args.broker in accounts:
        return str(getattr(args, accounts[args.broker]))
    if args.broker == live_broker.POLYMARKET:
        return live_broker.ACCOUNT
    return str(attrs.fields(RuntimeConfig).account.default)


def _config(
    args: argparse.Namespace,
    limits: RiskLimits,
    broker: AnyBroker | None,
    strategy: tuple[Evaluate, str],
) -> RuntimeConfig:
    """The run's configuration from its flags.

    A replay runs on the virtual-time kernel, paced or not (a paced one is the same lockstep
    steps with pauses between them, so every speed ends the same), unless ``--threaded``,
    live, or with a broker: its callbacks and queries come from threads of its own, which
    the kernel's idle cannot see.
    """
    data_dir = Path(args.data_dir)
    on_kernel = not (args.threaded or broker is not None or live_venue.is_live(args))
    return RuntimeConfig(
        evaluate=strategy[0],
        strategy_name=strategy[1],
        scheduler=VirtualTimeKernel() if on_kernel else REAL_SCHEDULER,
        risk=limits,
        broker=_broker_config(args, broker) if broker is not None else None,
        account=_account(args),
        latency_ns=int(args.latency_ms * 1_000_000),
        fill_schedule=args.fill_schedule,
        data_dir=data_dir,
        durability=Durability(args.durability.upper()),
        journal_store=journal_option.stores(args),
        journal=JournalConfig(
            snapshot_every=args.snapshot_every, snapshot_interval_s=args.snapshot_seconds
        ),
    )


def _broker_config(args: argparse.Namespace, broker: AnyBroker) -> BrokerConfig:
    if args.broker == "shioaji":
        calendar = settlement_calendar(args)
        return BrokerConfig(broker=broker, gap_s=args.gap_s, settlement_calendar=calendar)
    return BrokerConfig(broker=broker, gap_s=args.gap_s)


def _clear_data_dir(data_dir: Path) -> None:
    """``--fresh``: remove the journal, the paper broker's file (with their WAL files) and
    the runs' parameters."""
    remove_files(data_dir, (JOURNAL_FILE, PAPER_BROKER_FILE, RUNS_FILE))


def _hold(
    args: argparse.Namespace,
    out: TextIO,
    view: RunView | None,
    stop: threading.Event,
    *,
    serving: bool,
) -> None:
    """``--hold S``: keep answering commands that long after the replay (the view, if any,
    goes on showing their events)."""
    if serving and args.hold > 0:
        text = f"tradeactors: replay done; serving commands for {args.hold} s"
        if view is None:
            out.write(text + "\n")
            out.flush()
        else:
            view.say(text)
        stop.wait(args.hold)


def _start_services(
    args: argparse.Namespace, runtime: Runtime, on_down: Callable[[str], object]
) -> tuple[ZmqEdge | None, tuple[WSGIServer, threading.Thread] | None]:
    """The ZeroMQ edge and the metrics endpoint; if the second cannot start, neither runs."""
    edge = _start_edge(args, runtime, on_down)
    try:
        metrics = (
            None if args.no_metrics else serve_metrics(args.metrics_address, args.metrics_port)
        )
    except OSError:
        if edge is not None:
            edge.stop()
        raise
    return edge, metrics


def _start_edge(
    args: argparse.Namespace, runtime: Runtime, on_down: Callable[[str], object]
) -> ZmqEdge | None:
    """The ZeroMQ command and event sockets, unless ``--no-zmq``."""
    if args.no_zmq:
        return None
    curve = None
    if args.curve_secret or args.curve_clients:
        if not (args.curve_secret and args.curve_clients):
            raise RuntimeError("CURVE needs both --curve-secret and --curve-clients")
        curve = CurveConfig(
            server_secret_file=Path(args.curve_secret),
            allowed_clients_dir=Path(args.curve_clients),
        )
    return ZmqEdge(
        runtime,
        commands=args.commands_endpoint,
        events=args.events_endpoint,
        curve=curve,
        max_frame=args.max_frame,
        heartbeat_s=args.heartbeat_s,
        on_down=on_down,
    ).start()


def _paper_broker(args: argparse.Namespace) -> SimulatedBroker | None:
    """The paper broker ``--broker paper`` asks for, misbehaving as much as asked, on its
    file in the data dir (``--fresh`` removes that file and the journal first)."""
    if args.fresh:
        _clear_data_dir(Path(args.data_dir))
        journal_option.clear(args)
    if args.broker != "paper":
        return None
    return SimulatedBroker(
        seed=args.broker_seed,
        drop_rate=args.drop_rate,
        duplicate_rate=args.duplicate_rate,
        delay_s=(0.0, args.callback_delay_ms / 1000),
        state_path=Path(args.data_dir) / PAPER_BROKER_FILE,
    )


VERDICT_BROKERS = frozenset({"paper", "ib", "shioaji"})
"""The brokers whose truth the run compares itself with at its end."""


def _settle_with_broker(runtime: Runtime, broker: AnyBroker, name: str) -> str:
    """Reconcile once more, then compare what the run prints (the account book, the
    positions table, open orders) with the broker; a paper broker also says how every
    callback was accounted for. A broker that cannot be read then is said so, not compared."""
    paper = broker if isinstance(broker, SimulatedBroker) else None
    if paper is not None:
        paper.wait_idle(10.0)
    runtime.reconcile("end of run")
    runtime.wait_idle(timeout_s=30.0)
    normalizer = runtime.extra("normalizer")
    counters = normalizer.proxy().counters().get() if normalizer is not None else None
    account = runtime.config.account
    lines = [""]
    if paper is not None:
        stats = paper.stats()
        lines.append(
            f"paper broker: {stats.placed} orders, {stats.emitted} callbacks, "
            f"{stats.dropped} dropped, {stats.duplicated} duplicated"
        )
    else:
        lines.append(f"{name} broker: account {account}")
    try:
        truth = _all_pages(broker.list_positions, account)
        broker_open = _all_pages(broker.list_open_orders, account)
    except BrokerError as error:
        return "\n".join([*lines, f"the broker could not be read at the end: {error}"]) + "\n"
    verdict = broker_verdict(
        positions=runtime.positions(),
        book={p.security_id: p.quantity for p in runtime.account_positions() if p.quantity},
        truth={p.security_id: p.quantity for p in truth},
        orders=runtime.orders(),
        broker_open=broker_open,
    )
    if counters is not None:
        lines.append(
            f"normalizer: {counters.deals} deals booked ({counters.inferred} inferred by "
            f"reconciliation), {counters.duplicates} duplicates dropped, "
            f"{counters.late} late callbacks, {counters.conflicts} conflicting deals refused"
        )
    lines.extend(verdict.lines)
    return "\n".join(lines) + "\n"


def _all_pages(query: Callable[[str, int], Page[T]], account: str) -> list[T]:
    items: list[T] = []
    page: int | None = 0
    while page is not None:
        answer = query(account, page)
        items.extend(answer.items)
        page = answer.next_page
    return items


CHAOS_KINDS: dict[str, type[RuntimeActor]] = {
    "market": MarketActor,
    "order": OrderActor,
    "position": PositionActor,
    "market_lifecycle": MarketLifecycleActor,
    "execution": ExecutionActor,
    "strategy": StrategyActor,
    "venue": SimulatedVenueActor,
    "bus": EventBusActor,
    "journal": JournalActor,
    "index": PositionIndexActor,
    "risk": RiskActor,
}
"""Actor kinds the fault injector may kill: every supervised actor of the runtime but the
supervisor of the per-market actors, a plain ``Supervisor`` whose class the root's shares
(the injector picks by class); its death restarts the core as the lifecycle actor's does."""


def _chaos(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    out = sys.stdout
    try:
        feed_path, records = _load_feed(args)
    except FeedError as error:
        out.write(f"tradeactors: bad feed: {error}\n")
        return 2
    kinds = [CHAOS_KINDS[name] for name in args.kinds]
    out.write(
        f"tradeactors chaos: {feed_path} ({len(records)} records), killing {', '.join(args.kinds)} "
        f"actors at rate {args.rate} with seed {args.seed}; a clean run first\n"
    )
    progress = Progress("chaos", total=2 * len(records), unit="records")
    report = run_chaos(
        records,
        seed=args.seed,
        kinds=kinds,
        rate=args.rate,
        on_step=lambda run, step: progress.update(
            step + 1 + (len(records) if run != "clean run" else 0), what=run
        ),
    )
    verdict = "EQUAL to" if report.equal else "DIFFERENT from"
    progress.finish(
        f"{len(records):,} records twice, {len(report.faults)} faults, {verdict} the clean run, "
        f"in {progress.elapsed_s:.1f} s"
    )
    by_method = Counter(f"{fault.kind} by {fault.method.value}" for fault in report.faults)
    for what, count in sorted(by_method.items()):
        out.write(f"  {count:4d} x {what}\n")
    out.write("\nclean run:\n" + positions_table(report.clean.positions) + "\n")
    for name, clean, chaos in (
        ("orders", report.clean.facts.orders, report.chaos.facts.orders),
        ("fills journaled", report.clean.facts.fills, report.chaos.facts.fills),
        ("fills applied", report.clean.facts.applied, report.chaos.facts.applied),
        ("positions", report.clean.facts.positions, report.chaos.facts.positions),
    ):
        same = "same" if clean == chaos else "DIFFERENT"
        out.write(f"  {name:16s} clean {len(clean):5d}  with faults {len(chaos):5d}  {same}\n")
    out.write(f"\nthe run with {len(report.faults)} faults ended {verdict} the clean run\n")
    return 0 if report.equal else 1


class _StopRequestedError(Exception):
    """Ctrl-C or SIGTERM asked the run to stop; raised where stopping is safe."""


class _StopRequest:
    """Ctrl-C and SIGTERM set ``requested``; the run stops between records.

    A KeyboardInterrupt raised wherever the signal lands can leave a lock of the runtime's
    threads held (a hang at exit); a flag is read only where stopping is safe. A second
    signal interrupts at once.
    """

    def __init__(self, deadline: ShutdownDeadline) -> None:
        self.requested = threading.Event()
        self.deadline = deadline

    def install(self) -> _StopRequest:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)
        return self

    def check(self) -> None:
        if self.requested.is_set():
            raise _StopRequestedError

    def _handle(self, _signum: int, _frame: object) -> None:
        self.deadline.arm()
        if self.requested.is_set():
            raise KeyboardInterrupt
        self.requested.set()


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return seconds


def _add_service_flags(run: argparse.ArgumentParser) -> None:
    """The ZeroMQ edge's and the metrics endpoint's options of ``run``."""
    run.add_argument("--no-zmq", action="store_true", help="no ZeroMQ command/event sockets")
    run.add_argument("--no-metrics", action="store_true", help="no Prometheus endpoint")
    run.add_argument("--metrics-address", default=METRICS_ADDRESS, help="metrics HTTP address")
    run.add_argument(
        "--metrics-port", type=int, default=METRICS_PORT, help="metrics HTTP port (0: any free)"
    )
    run.add_argument(
        "--commands-endpoint", type=endpoint, default=DEFAULT_COMMANDS, help="ROUTER socket"
    )
    run.add_argument("--events-endpoint", type=endpoint, default=DEFAULT_EVENTS, help="PUB socket")
    run.add_argument("--curve-secret", help="server secret key file: turns CURVE on")
    run.add_argument("--curve-clients", help="directory of allowed clients' public keys")
    run.add_argument(
        "--max-frame", type=int, default=DEFAULT_MAX_FRAME, help="largest request in bytes"
    )
    run.add_argument(
        "--heartbeat-s",
        type=_positive_seconds,
        default=DEFAULT_HEARTBEAT_S,
        help="interval of the heartbeat topic on the event stream",
    )


def _add_run_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="replay a feed through the whole runtime")
    run.add_argument(
        "--config", help="a TOML file of the run's settings (tools/run_config.py); flags win"
    )
    run.add_argument("--feed", help="feed file (.jsonl or .jsonl.gz); default: bundled sample")
    run.add_argument(
        "--speed",
        type=float,
        default=30.0,
        help="feed-time multiplier; 0 replays as fast as possible, deterministically",
    )
    run.add_argument(
        "--threaded",
        action="store_true",
        help="run each actor on its own thread instead of the one-thread virtual-time "
        "kernel (at --speed 0 the results are the same; paced, they vary with timing)",
    )
    run.add_argument("--duration", type=float, help="stop the replay after this many seconds")
    run.add_argument(
        "--records", type=int, help="stop after the feed's first N records (counted from 0)"
    )
    run.add_argument("--latency-ms", type=float, default=2.0, help="simulated venue latency")
    run.add_argument(
        "--fill-schedule",
        default="immediate",
        choices=FILL_SCHEDULES,
        help="simulated venue: fill at once, or staged (seed 003: 30%% now, the rest after "
        "the latency)",
    )
    run.add_argument("--quiet", action="store_true", help="print only the final positions")
    run.add_argument(
        "--plain",
        action="store_true",
        help="a line per event even on a terminal, instead of the live dashboard",
    )
    add_log_level(run, "warning")
    run.add_argument(
        "--data-dir",
        default="tradeactors-data",
        help="where the journal lives; a second run continues from where the first stopped",
    )
    run.add_argument("--fresh", action="store_true", help="delete the journal and start over")
    journal_option.add_journal_flag(run)
    run.add_argument(
        "--durability",
        default="normal",
        choices=["normal", "full"],
        help="journal commits: normal survives kill -9, full also a power cut (SQLite "
        "synchronous; PostgreSQL synchronous_commit local or on)",
    )
    run.add_argument("--snapshot-every", type=int, default=10_000, help="events per snapshot")
    run.add_argument("--snapshot-seconds", type=float, default=60.0, help="seconds per snapshot")
    run.add_argument(
        "--parquet-snapshots",
        metavar="DIR",
        help="while running, write every position to a Parquet file in DIR (a dataset)",
    )
    run.add_argument(
        "--parquet-every",
        type=positive_seconds,
        default=DEFAULT_INTERVAL_S,
        help="seconds between two --parquet-snapshots files (written only after a change)",
    )
    run.add_argument(
        "--broker",
        default="none",
        choices=["none", "paper", "ib", "shioaji", live_broker.POLYMARKET],
        help="trade through a broker (paper, Interactive Brokers: --ib-*, Shioaji: "
        "--shioaji-*, Polymarket with --venue polymarket) instead of the venue",
    )
    broker_choice.add_ib_flags(run)
    add_shioaji_flags(run)
    run.add_argument("--drop-rate", type=float, default=0.0, help="paper broker: lost callbacks")
    run.add_argument(
        "--duplicate-rate", type=float, default=0.0, help="paper broker: repeated callbacks"
    )
    run.add_argument(
        "--callback-delay-ms",
        type=float,
        default=0.0,
        help="paper broker: callbacks arrive up to this late (and so out of order)",
    )
    run.add_argument("--broker-seed", type=int, default=1, help="paper broker: seed of its faults")
    add_risk_flags(run)
    strategy_loader.add_flags(run)
    live_venue.add_venue_flags(run)
    live_broker.add_flags(run)
    _add_service_flags(run)
    run.add_argument(
        "--hold", type=float, default=0.0, help="keep serving commands this long after the replay"
    )
    run.add_argument(
        "--gap-s", type=float, default=2.0, help="callback silence that triggers a reconcile"
    )
    run.add_argument(
        "--shutdown-s",
        type=float,
        default=20.0,
        help="deadline of the shutdown once it begins (a signal, or the run's end)",
    )
    run.set_defaults(handler=_run)


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = CliParser(prog="tradeactors", description=__doc__)
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {importlib.metadata.version('tradeactors')}",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run_command(commands)

    chaos = commands.add_parser(
        "chaos", help="replay a feed with actors killed at random; compare with a clean run"
    )
    chaos.add_argument("--feed", help="feed file; default: bundled sample")
    chaos.add_argument("--seed", type=int, default=1, help="seed of the fault schedule")
    chaos.add_argument("--rate", type=float, default=0.05, help="chance of a fault per record")
    chaos.add_argument(
        "--kinds", nargs="+", default=["position"], choices=sorted(CHAOS_KINDS), help="whom to kill"
    )
    add_log_level(chaos, "error")
    chaos.set_defaults(handler=_chaos)

    add_client_commands(commands)
    add_cluster_command(commands, str(sample_feed_path()))
    add_verify_command(commands)
    add_record_command(commands)
    add_export_command(commands)
    add_report_command(commands)

    gen = commands.add_parser("feedgen", help="generate a synthetic feed file")
    feedgen.add_arguments(gen)
    gen.set_defaults(handler=feedgen.run)
    commands.add_parser(
        "bench",
        add_help=False,
        help="run every benchmark and write bench/RESULTS.md (python -m bench; --help there)",
    )
    return parser


def _bench(argv: Sequence[str]) -> int:
    """``tradeactors bench ...`` is ``python -m bench ...``: the suite parses its own options.
    Loaded on demand: it pulls in every benchmark, which no other command needs."""
    suite = importlib.import_module("bench.suite")
    return int(suite.main(list(argv), prog="tradeactors bench"))


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["bench"]:
        return _bench(given[1:])
    parser = build_parser()
    try:
        expanded = run_config.expand(given, command_flags(parser, "run"))
    except run_config.RunConfigError as error:
        sys.stdout.write(f"tradeactors: bad config: {error}\n")
        return 2
    args = parser.parse_args(expanded)
    return int(args.handler(args))


def command_flags(parser: argparse.ArgumentParser, command: str) -> set[str]:
    """Every option string of one subcommand."""
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        choices = action.choices
        if isinstance(choices, dict) and command in choices:
            return {flag for sub in choices[command]._actions for flag in sub.option_strings}
    return set()


if __name__ == "__main__":
    sys.exit(main())
