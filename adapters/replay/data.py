"""Stream a ParquetDataCatalog into a live nautilus node as if it were a venue's feed.

nautilus has no catalog replay of its own (its issue #748); :class:`ReplayDataClient` is one,
written on nautilus' data-client template (a ``LiveMarketDataClient``). The life of a replay:

1. Build: the client reads its instruments, bars and (where the catalog has them) quote ticks
   and checks them, so a bad config fails ``node.build()`` with a message naming the field.
2. Connect: it adds the instruments to the cache and publishes them as a live client does
   (``_handle_data``), so every component, the sandbox venue included, receives them.
3. Start: nothing streams until :meth:`ReplayDataClient.start_replay` hands it a
   :class:`ReplayControl`; ``adapters.replay.runner`` does it once the trader runs, through the
   message-bus endpoint ``START_ENDPOINT_PREFIX + client_id``.
4. Stream: data go out in ``ts_init`` order (ties: quote ticks before bars, then config order),
   one datum at a time, each followed by ``control.pacer.settle()`` so that every order and fill
   it causes is handled before the next datum, as in a ``BacktestEngine``. ``speed`` paces data
   time on the wall clock (1.0 = real time, 10.0 = ten times faster, ``"max"`` = no waits).
5. Finish: the client publishes :class:`ReplayFinished` on ``FINISHED_TOPIC`` and sets
   :attr:`ReplayDataClient.finished`.

Resuming (docs/replay.md):

- ``resume_after_ns``: data with ``ts_init <= resume_after_ns`` are never sent; the replay
  starts with the first datum after it.
- ``catchup_until_ns``: data with ``ts_init <= catchup_until_ns`` are the catch-up phase, sent
  as fast as possible whatever ``speed`` says (still settled datum by datum, so the fills are the
  same). When the last of them is settled the client publishes :class:`ReplayCatchupDone` on
  ``CATCHUP_DONE_TOPIC`` (also when the phase is empty), sets :attr:`ReplayDataClient.catchup_done`
  and goes on at ``speed``. A restart rebuilds its state by re-simulating the bars it had already
  replayed (``catchup_until_ns`` = the last one) while journals and notifiers wait for the message.

The strategies' clock in a live node is wall time; only the sandbox venue runs on data time.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.common.providers import InstrumentProvider
from nautilus_trader.config import LiveDataClientConfig
from nautilus_trader.core.data import Data
from nautilus_trader.data.messages import (
    SubscribeBars,
    SubscribeData,
    SubscribeInstrument,
    SubscribeInstruments,
    SubscribeQuoteTicks,
    UnsubscribeBars,
    UnsubscribeData,
    UnsubscribeInstrument,
    UnsubscribeInstruments,
    UnsubscribeQuoteTicks,
)
from nautilus_trader.live.data_client import LiveMarketDataClient
from nautilus_trader.live.factories import LiveDataClientFactory
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.identifiers import ClientId, InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.replay.pacing import Pacer, SpeedSchedule
from engine.clock import FEED_TIME_TOPIC, FeedTime

START_ENDPOINT_PREFIX = "ReplayDataClient.start."
FINISHED_TOPIC = "replay.finished"
CATCHUP_DONE_TOPIC = "replay.catchup_done"

# Tie-break at equal ts_init: quotes (inside the interval) before bars (stamped at its close).
_QUOTE_RANK, _BAR_RANK = 0, 1


class ReplayDataError(ValueError):
    """Raise when a replay config or its catalog cannot give the data asked for."""


class ReplayDataClientConfig(LiveDataClientConfig, frozen=True, kw_only=True):
    """Configure a catalog replay.

    Parameters
    ----------
    catalog_path : str
        The ParquetDataCatalog directory.
    instrument_ids : list[str]
        Instruments to load (those of ``bar_types`` are added).
    bar_types : list[str]
        Bar types to stream.
    quote_ticks : bool, default True
        Stream the instruments' quote ticks where the catalog has any.
    start, end : str, optional
        ISO window on the catalog, as ``ParquetDataCatalog.bars`` reads it.
    speed : str or float, default "max"
        ``"max"``, or a positive factor on the wall clock (1.0 = real time).
    resume_after_ns : int, optional
        Skip every datum with ``ts_init`` at or before this UNIX time (nanoseconds).
    catchup_until_ns : int, optional
        Send data with ``ts_init`` at or before this time as fast as possible, then publish
        ``ReplayCatchupDone`` on ``replay.catchup_done`` and go on at ``speed``.
    """

    catalog_path: str
    instrument_ids: list[str] = []
    bar_types: list[str] = []
    quote_ticks: bool = True
    start: str | None = None
    end: str | None = None
    speed: str | float = "max"
    resume_after_ns: int | None = None
    catchup_until_ns: int | None = None


@dataclass(frozen=True)
class ReplayProgress:
    """Count what a replay client has streamed so far."""

    client_id: str
    total: int
    streamed: int = 0
    bars: int = 0
    quotes: int = 0
    last_ts_ns: int | None = None
    catching_up: bool = False
    finished: bool = False
    stopped: bool = False
    stream_seconds: float = 0.0  # wall time spent streaming (a measurement, not a result)


@dataclass(frozen=True)
class ReplayCatchupDone:
    """Say that the catch-up phase of a replay client is over (published on the bus)."""

    client_id: str
    until_ns: int
    last_ts_ns: int | None
    streamed: int


@dataclass(frozen=True)
class ReplayFinished:
    """Say that a replay client has nothing more to stream (published on the bus)."""

    progress: ReplayProgress


class ReplayControl:
    """Hold what the runner gives the replay clients of one node: the pacer and a stop flag."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer
        self.stop_requested = False
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        """Ask every replay client to stop after its current datum."""
        self.stop_requested = True
        self._stop.set()

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if a stop is requested meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


@dataclass(frozen=True)
class _Settings:
    catalog: Path
    instrument_ids: tuple[str, ...]
    bar_types: tuple[BarType, ...]
    factor: float | None  # None = as fast as possible
    resume_after_ns: int | None
    catchup_until_ns: int | None


def _settings(name: str, config: ReplayDataClientConfig) -> _Settings:
    where = f"replay data client {name!r}"
    catalog = Path(config.catalog_path)
    if not catalog.is_dir():
        raise ReplayDataError(
            f"{where}: catalog_path {config.catalog_path!r} is not a directory "
            "(build it with `python -m catalog.ingest --config configs/catalog/sample.toml`)"
        )
    bar_types: list[BarType] = []
    for value in config.bar_types:
        try:
            bar_types.append(BarType.from_str(value))
        except ValueError as error:
            raise ReplayDataError(f"{where}: bar_types has an invalid bar type {value!r}: {error}") from None
    instrument_ids = list(dict.fromkeys(config.instrument_ids))
    for value in instrument_ids:
        try:
            InstrumentId.from_str(value)
        except ValueError as error:
            raise ReplayDataError(
                f"{where}: instrument_ids has an invalid instrument id {value!r}: {error}"
            ) from None
    for bar_type in bar_types:
        if str(bar_type.instrument_id) not in instrument_ids:
            instrument_ids.append(str(bar_type.instrument_id))
    if not instrument_ids:
        raise ReplayDataError(f"{where}: give instrument_ids or bar_types, both are empty")
    for field in ("start", "end"):
        value = getattr(config, field)
        if value is not None:
            try:
                pd.Timestamp(datetime.fromisoformat(value)).value  # noqa: B018 (in nanosecond range?)
            except (ValueError, OverflowError):
                raise ReplayDataError(f"{where}: {field} {value!r} is not an ISO timestamp") from None
    factor: float | None
    if isinstance(config.speed, str):
        if config.speed != "max":
            raise ReplayDataError(f'{where}: speed {config.speed!r} must be "max" or a positive number')
        factor = None
    else:
        factor = float(config.speed)
        if not factor > 0.0:
            raise ReplayDataError(f'{where}: speed {config.speed!r} must be "max" or a positive number')
    for field in ("resume_after_ns", "catchup_until_ns"):
        value = getattr(config, field)
        if value is not None and value < 0:
            raise ReplayDataError(f"{where}: {field} {value!r} must be a UNIX time in nanoseconds >= 0")
    if (
        config.resume_after_ns is not None
        and config.catchup_until_ns is not None
        and config.catchup_until_ns < config.resume_after_ns
    ):
        raise ReplayDataError(
            f"{where}: catchup_until_ns {config.catchup_until_ns} is before resume_after_ns "
            f"{config.resume_after_ns}: nothing would be caught up"
        )
    return _Settings(
        catalog=catalog,
        instrument_ids=tuple(instrument_ids),
        bar_types=tuple(bar_types),
        factor=factor,
        resume_after_ns=config.resume_after_ns,
        catchup_until_ns=config.catchup_until_ns,
    )


def _load(
    name: str, config: ReplayDataClientConfig, settings: _Settings
) -> tuple[list[Instrument], list[Data]]:
    """Read the instruments and the data to stream, merged in the order they will go out."""
    where = f"replay data client {name!r}"
    catalog = ParquetDataCatalog(str(settings.catalog))
    instruments = catalog.instruments(instrument_ids=list(settings.instrument_ids))
    missing = sorted(set(settings.instrument_ids) - {str(i.id) for i in instruments})
    if missing:
        raise ReplayDataError(
            f"{where}: catalog {config.catalog_path!r} has no instrument {', '.join(missing)}"
        )
    streams: list[list[Data]] = []
    ranks: list[int] = []
    if config.quote_ticks:
        for instrument_id in settings.instrument_ids:
            quotes = catalog.quote_ticks(instrument_ids=[instrument_id], start=config.start, end=config.end)
            if quotes:
                streams.append(quotes)
                ranks.append(_QUOTE_RANK)
    for bar_type in settings.bar_types:
        bars = catalog.bars(bar_types=[str(bar_type)], start=config.start, end=config.end)
        if not bars:
            raise ReplayDataError(
                f"{where}: catalog {config.catalog_path!r} has no bars for {bar_type} "
                f"between start={config.start!r} and end={config.end!r}"
            )
        streams.append(bars)
        ranks.append(_BAR_RANK)
    return instruments, _merge(streams, ranks, settings.resume_after_ns)


def _merge(streams: list[list[Data]], ranks: list[int], after_ns: int | None) -> list[Data]:
    """Merge sorted streams by (ts_init, rank, stream index), dropping data at or before ``after_ns``."""

    def keyed(index: int, stream: list[Data]) -> Iterator[tuple[int, int, int, Data]]:
        rank = ranks[index]
        ordered = sorted(stream, key=lambda d: d.ts_init)  # stable: keeps the catalog's order on ties
        for datum in ordered:
            if after_ns is None or datum.ts_init > after_ns:
                yield datum.ts_init, rank, index, datum

    merged = heapq.merge(*(keyed(i, s) for i, s in enumerate(streams)), key=lambda item: item[:3])
    return [item[3] for item in merged]


class ReplayDataClient(LiveMarketDataClient):
    """Stream a catalog's bars and quote ticks into a live node (see the module docstring)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: ReplayDataClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> None:
        settings = _settings(name, config)
        instruments, data = _load(name, config, settings)
        super().__init__(
            loop=loop,
            client_id=ClientId(name),
            venue=None,  # one replay may serve several venues
            msgbus=msgbus,
            cache=cache,
            clock=clock,
            instrument_provider=InstrumentProvider(),
            config=config,
        )
        self._settings = settings
        self._data = data
        for instrument in instruments:
            self._instrument_provider.add(instrument)
        self._bar_types = {str(bar_type) for bar_type in settings.bar_types}
        self._streamed = self._bars = self._quotes = 0
        self._last_ts: int | None = None
        self._catching_up = settings.catchup_until_ns is not None
        self._stopped = False
        self._started = False
        self._stream_seconds = 0.0
        self.finished = asyncio.Event()
        self.catchup_done = asyncio.Event()
        self._msgbus.register(endpoint=self.start_endpoint, handler=self.start_replay)

    @property
    def start_endpoint(self) -> str:
        """Return the message-bus endpoint that starts this client's stream."""
        return f"{START_ENDPOINT_PREFIX}{self.id}"

    @property
    def progress(self) -> ReplayProgress:
        """Return the counters of what has been streamed so far."""
        return ReplayProgress(
            client_id=self.id.value,
            total=len(self._data),
            streamed=self._streamed,
            bars=self._bars,
            quotes=self._quotes,
            last_ts_ns=self._last_ts,
            catching_up=self._catching_up,
            finished=self.finished.is_set() and not self._stopped,
            stopped=self._stopped,
            stream_seconds=self._stream_seconds,
        )

    def start_replay(self, control: ReplayControl) -> None:
        """Start streaming, settled by ``control.pacer``; call once the trader is running."""
        if self._started:
            self._log.warning("Replay already started")
            return
        self._started = True
        self.create_task(self._stream(control), log_msg="replay_stream")

    async def _stream(self, control: ReplayControl) -> None:
        began = time.perf_counter()
        try:
            await self._send_all(control)
        except asyncio.CancelledError:
            self._stopped = True  # the node disconnected the client mid-stream
            raise
        finally:
            self._stream_seconds = time.perf_counter() - began
            self.finished.set()
            progress = self.progress
            self._log.info(
                f"Replay {'stopped' if self._stopped else 'finished'}: {progress.streamed} of "
                f"{progress.total} data ({progress.bars} bars, {progress.quotes} quotes), "
                f"last ts_init {progress.last_ts_ns}"
            )
            self._msgbus.publish(topic=FINISHED_TOPIC, msg=ReplayFinished(progress=progress))

    async def _send_all(self, control: ReplayControl) -> None:
        catchup_until = self._settings.catchup_until_ns
        factor = self._settings.factor
        schedule = SpeedSchedule(factor) if factor is not None else None
        send = self._handle_data
        settle = control.pacer.settle
        publish = self._msgbus.publish
        loop = self._loop
        current: int | None = None  # the data time being streamed (FeedTime, engine.clock)
        for datum in self._data:
            if control.stop_requested:
                self._stopped = True
                break
            ts = datum.ts_init
            if self._catching_up and ts > catchup_until:  # type: ignore[operator]
                self._catchup_over()
            if schedule is not None and not self._catching_up:
                wait = schedule.delay(ts, loop.time())
                if wait > 0.0:
                    await control.sleep(wait)
                    if control.stop_requested:
                        self._stopped = True
                        break
            if ts != current:
                if current is not None:
                    publish(topic=FEED_TIME_TOPIC, msg=FeedTime(current, settled=True))
                publish(topic=FEED_TIME_TOPIC, msg=FeedTime(ts, settled=False))
                current = ts
            send(datum)
            await settle()
            self._streamed += 1
            self._last_ts = ts
            if type(datum) is Bar:
                self._bars += 1
            elif type(datum) is QuoteTick:
                self._quotes += 1
        if current is not None and not self._stopped:
            publish(topic=FEED_TIME_TOPIC, msg=FeedTime(current, settled=True))
        if self._catching_up and not self._stopped:
            self._catchup_over()

    def _catchup_over(self) -> None:
        self._catching_up = False
        until = self._settings.catchup_until_ns
        assert until is not None
        self._log.info(f"Replay catch-up done at ts_init {self._last_ts} ({self._streamed} data)")
        self.catchup_done.set()
        self._msgbus.publish(
            topic=CATCHUP_DONE_TOPIC,
            msg=ReplayCatchupDone(
                client_id=self.id.value, until_ns=until, last_ts_ns=self._last_ts, streamed=self._streamed
            ),
        )

    # -- CONNECTION -------------------------------------------------------------------------------

    async def _connect(self) -> None:
        for instrument in self._instrument_provider.list_all():
            self._cache.add_instrument(instrument)  # in the cache before the trader starts
            self._handle_data(instrument)  # and published, as a live venue's client does
        self._log.info(
            f"Loaded {len(self._instrument_provider.list_all())} instruments and {len(self._data)} data; "
            "waiting for the replay runner to start the stream"
        )

    async def _disconnect(self) -> None:
        self._log.info("Replay client disconnected")

    # -- SUBSCRIPTIONS: the replay streams what its config lists, whoever subscribes -------------

    async def _subscribe(self, command: SubscribeData) -> None:
        self._log.warning(f"Replay has no {command.data_type} to stream")

    async def _subscribe_instruments(self, command: SubscribeInstruments) -> None:
        pass

    async def _subscribe_instrument(self, command: SubscribeInstrument) -> None:
        pass

    async def _subscribe_quote_ticks(self, command: SubscribeQuoteTicks) -> None:
        pass

    async def _subscribe_bars(self, command: SubscribeBars) -> None:
        if str(command.bar_type) not in self._bar_types:
            self._log.warning(f"Replay does not stream {command.bar_type} (not in its bar_types)")

    async def _unsubscribe(self, command: UnsubscribeData) -> None:
        pass

    async def _unsubscribe_instruments(self, command: UnsubscribeInstruments) -> None:
        pass

    async def _unsubscribe_instrument(self, command: UnsubscribeInstrument) -> None:
        pass

    async def _unsubscribe_quote_ticks(self, command: UnsubscribeQuoteTicks) -> None:
        pass

    async def _unsubscribe_bars(self, command: UnsubscribeBars) -> None:
        pass


class ReplayDataClientFactory(LiveDataClientFactory):
    """Create :class:`ReplayDataClient` instances for a ``TradingNode``."""

    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: ReplayDataClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> ReplayDataClient:
        """Return a replay data client for ``config``."""
        return ReplayDataClient(loop=loop, name=name, config=config, msgbus=msgbus, cache=cache, clock=clock)
