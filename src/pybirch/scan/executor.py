"""How a scan tree is run: nested loops over positions, readings at every position.

This is the hot path. A movement whose only child is one measurement runs in a tight
loop (:mod:`pybirch.scan.tight_loop`, compiled where it could be built) that does, per
point: the move, the reading, one copy to bytes, a timestamp, the point's journal record
(if the scan has a journal, see :mod:`pybirch.scan.journal`), and one comparison of the
timestamp with ``ScanControl.due``, which stops the loop when a flush is due or a pause,
abort or failure was requested. Everything else (positions, point
indices, DataFrames) is rebuilt per batch, off the per-point path.

An instrument that stops answering mid-scan pauses the scan until it is reconnected (the
rule is in :mod:`pybirch.scan.instrument_loss`): the loops catch errors around the calls
they make anyway, so the per-point path does no more work than before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial
from types import MethodType

from pybirch.instruments.base import Instrument, Movement
from pybirch.scan.axis import Linspace
from pybirch.scan.batch import MeasurementBuffer
from pybirch.scan.control import AbortRequested, Request, ScanControl
from pybirch.scan.instrument_loss import LossCounter, LossHandling, lost_instrument
from pybirch.scan.tight_loop import run_line
from pybirch.scan.tree import Item, MeasurementItem, MovementItem, Positions

#: Measurements at one position that share no adapter, so may be read side by side.
Block = list[list[MeasurementItem]]

#: Positions turned into Python floats at a time: a long axis is never one big list.
POSITION_BLOCK = 4096


class TreeExecutor:
    """Runs the items of a scan tree, filling the measurement buffers."""

    def __init__(
        self,
        items: Sequence[Item],
        buffers: dict[int, MeasurementBuffer],
        control: ScanControl,
        flush: Callable[[MeasurementBuffer | None], None],
        on_pause: Callable[[], None],
        on_resume: Callable[[], None],
        flush_interval: float,
        losses: LossHandling | None = None,
    ) -> None:
        self._items = list(items)
        self._buffers = buffers
        self._control = control
        self._flush = flush
        self._on_pause = on_pause
        self._on_resume = on_resume
        self._flush_interval = flush_interval
        self._deadline = time.time() + flush_interval
        #: Outer movements being held at a position, for re-commanding after a pause.
        self._held: list[Movement] = []
        #: Their positions (None before the first), outermost first.
        self._held_positions: list[float | None] = []
        self._pool: ThreadPoolExecutor | None = None
        self._parts: dict[int, list[MovementItem | Block]] = {}
        self._loops: dict[int, _Loop] = {}
        #: How to pause for a lost instrument; None: a lost instrument fails the scan.
        self._losses = losses
        self._loss_counter = None if losses is None else LossCounter(losses.points_done)

    def run(self) -> None:
        """Run the whole tree once."""
        self._arm()
        try:
            for item in self._items:
                if isinstance(item, MeasurementItem):
                    self._buffers[id(item)].begin_pass((), None)
            self._run_items(self._items)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)

    def _run_items(self, items: Sequence[Item]) -> None:
        parts = self._parts.get(id(items))
        if parts is None:
            parts = self._parts[id(items)] = _split(items)
        for part in parts:
            if isinstance(part, MovementItem):
                self._run_movement(part)
            else:
                self._measure(part)

    def _run_movement(self, item: MovementItem) -> None:
        loop = self._loops.get(id(item))
        if loop is None:
            loop = self._loops[id(item)] = _Loop(item, self._buffers)
        reverse = loop.next_pass()
        outer = tuple(self._held_positions)
        for buffer in loop.buffers:
            buffer.begin_pass(outer, loop.pass_positions(reverse))
        if loop.is_line:
            self._run_line(loop, reverse, loop.buffers[0])
            return
        self._held.append(item.instrument)
        self._held_positions.append(None)
        try:
            for position in loop.each_position(reverse):
                self._checkpoint_if_requested()
                try:
                    loop.move(position)
                except Exception as error:  # noqa: BLE001 - re-raised unless a lost instrument
                    self._move_after_loss(loop, position, error)
                self._held_positions[-1] = position
                self._run_items(item.children)
        finally:
            self._held.pop()
            self._held_positions.pop()

    def _run_line(self, loop: _Loop, reverse: bool, buffer: MeasurementBuffer) -> None:
        """One pass of the tight loop; after a lost instrument is back, from the lost point."""
        first, done = buffer.points_taken, 0
        while True:
            try:
                self._line_points(loop, reverse, buffer, done)
                return
            except Exception as error:  # noqa: BLE001 - re-raised unless a lost instrument
                self._wait_for_lost(error, (loop.instrument, buffer.plan.item.instrument))
                done = buffer.points_taken - first

    def _line_points(
        self, loop: _Loop, reverse: bool, buffer: MeasurementBuffer, done: int
    ) -> None:
        """The tight loop: one movement, one measurement, nothing else at each position."""
        count, move = loop.count, loop.move
        perform = buffer.plan.item.instrument.perform_measurement
        due, now = self._control.due, time.time
        if not buffer.calibrated:
            # The first point checks the reading's shape and sizes the batches.
            self._checkpoint_if_requested()
            move(loop.floats(reverse, done, done + 1)[0])
            buffer.add_first(perform(), now())
            done += 1
        chunks, timestamps, to_bytes = buffer.chunks, buffer.timestamps, buffer.to_bytes
        record = None if buffer.recorder is None else buffer.recorder.point
        limit, shape = buffer.points_per_batch, buffer.shape
        # Blocks sized to the room left in the batch keep the count check off the per-point
        # path; each block's positions become Python floats only when the block starts.
        while done < count:
            if len(chunks) >= limit:
                self._flush(buffer)
            block = min(count - done, limit - len(chunks), POSITION_BLOCK)
            positions = loop.floats(reverse, done, done + block)
            done += block
            # Requests are served before a block's first point and after every point.
            self._checkpoint_if_requested()
            taken = 0
            while taken < block:
                taken = run_line(
                    positions,
                    taken,
                    move,
                    perform,
                    to_bytes,
                    now,
                    record,
                    shape,
                    chunks,
                    timestamps,
                    due,
                )
                t = timestamps[-1]
                if t >= due[0]:
                    self._point_boundary(t)

    def _measure(self, block: Block) -> None:
        """Read the measurements at one position; groups without a shared adapter in parallel."""
        if len(block) == 1:
            try:
                full = self._read_group(block[0])
            except Exception as error:  # noqa: BLE001 - re-raised unless a lost instrument
                full = self._measure_after_loss(block, [], error)
        else:
            pool = self._pool or self._start_pool(len(block))
            futures = [pool.submit(self._read_group, group) for group in block[1:]]
            try:
                full = self._read_group(block[0])
                full += [buffer for future in futures for buffer in future.result()]
            except Exception as error:  # noqa: BLE001 - re-raised unless a lost instrument
                full = self._measure_after_loss(block, futures, error)
        t = time.time()
        for buffer in full:
            self._flush(buffer)
        if t >= self._deadline:
            self._flush_due(None, t)

    def _read_group(self, group: list[MeasurementItem]) -> list[MeasurementBuffer]:
        full = []
        for item in group:
            buffer = self._buffers[id(item)]
            if buffer.add(item.instrument.perform_measurement(), time.time()):
                full.append(buffer)
        return full

    def _start_pool(self, size: int) -> ThreadPoolExecutor:
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, size - 1), thread_name_prefix="pybirch-read"
        )
        return self._pool

    def _flush_due(self, buffer: MeasurementBuffer | None, now: float) -> None:
        if now >= self._deadline:
            self._flush(None)
            self._deadline = now + self._flush_interval
        elif buffer is not None:
            self._flush(buffer)

    def _point_boundary(self, now: float) -> None:
        """The tight loop's stop between points: a flush that is due, then any request."""
        self._flush_due(None, now)
        self._checkpoint_if_requested()
        self._arm()

    def _arm(self) -> None:
        """Make the tight loop stop at the next flush, or at once if a request waits."""
        due = self._control.due
        due[0] = self._deadline
        # a request made while due[0] was set must not wait for the flush
        if self._control.flag[0]:
            due[0] = -math.inf

    def _checkpoint_if_requested(self) -> None:
        if self._control.flag[0]:
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Serve a pending request at this point boundary."""
        request = self._control.pending()
        if request is None:
            return
        if request is Request.PAUSE:
            self._on_pause()
            request = self._control.wait_while_paused()
            if request is None:
                self._recommand_held_positions()
                self._on_resume()
                return
        if request is Request.FAIL:
            raise self._control.failure  # type: ignore[misc]
        raise AbortRequested

    # -- a lost instrument (see pybirch.scan.instrument_loss); never on the per-point path --

    def _move_after_loss(self, loop: _Loop, position: float, error: Exception) -> None:
        """Move to ``position`` once the movement that lost its link is back."""
        while True:
            self._wait_for_lost(error, (loop.instrument,))
            try:
                loop.move(position)
                return
            except Exception as again:  # noqa: BLE001 - re-raised unless a lost instrument
                error = again

    def _measure_after_loss(
        self, block: Block, futures: list[Future], error: Exception
    ) -> list[MeasurementBuffer]:
        """Take the readings of this position still missing once the lost instrument is back.

        Sibling measurements are read together at every position, so before this one they
        had taken equally many points: those ahead of the others have this one already.
        """
        wait(futures)  # no reading of this position may still run
        items = [item for group in block for item in group]
        suspects = [item.instrument for item in items]
        for future in futures:
            other = future.exception()
            if other is not None and lost_instrument(other, suspects) is None:
                raise other  # a failure, not a loss: it fails the scan as always
        buffers = [self._buffers[id(item)] for item in items]
        taken = [buffer.points_taken for buffer in buffers]
        target = max(taken) if min(taken) < max(taken) else max(taken) + 1
        while True:
            self._wait_for_lost(error, suspects)
            try:
                for item, buffer in zip(items, buffers, strict=True):
                    if buffer.points_taken < target:
                        buffer.add(item.instrument.perform_measurement(), time.time())
                break
            except Exception as again:  # noqa: BLE001 - re-raised unless a lost instrument
                error = again
        return [buffer for buffer in buffers if len(buffer.chunks) >= buffer.points_per_batch]

    def _wait_for_lost(self, error: Exception, suspects: Sequence[Instrument]) -> None:
        """Pause until the instrument that lost its link is back; raise ``error`` if none did.

        Returns with the instrument initialized again, the held positions commanded again and
        the scan RUNNING; raises the reconnector's error when it gives up, AbortRequested on
        an abort, and ``error`` itself for any failure that is not a lost instrument.
        """
        losses = self._losses
        lost = None
        if losses is not None and error is not self._control.failure:
            lost = lost_instrument(error, suspects)
        if losses is None or lost is None or self._loss_counter is None:
            raise error
        self._loss_counter.count(error)
        losses.note(lost, error)
        self._on_pause()
        while True:
            self._control.expect_reconnect()
            losses.reconnect(lost, error, self._reconnect_reply)
            request = self._control.wait_while_lost()
            if request is Request.FAIL:
                raise self._control.failure  # type: ignore[misc]
            if request is Request.ABORT:
                raise AbortRequested
            try:
                losses.restore(lost)
                self._recommand_held_positions()
                break
            except Exception as again:
                lost = lost_instrument(again, [lost, *self._held])
                if lost is None:
                    raise
                error = again
                self._loss_counter.count(error)
                losses.note(lost, error)
        losses.note(lost, None)
        self._resume_after_loss()

    def _reconnect_reply(self, outcome: BaseException | None) -> None:
        if outcome is None:
            self._control.reconnected()
        else:
            self._control.request_failure(outcome)

    def _resume_after_loss(self) -> None:
        """Resume, unless a pause was asked for meanwhile: then wait for it to end first."""
        request = self._control.pending()
        if request is Request.PAUSE:
            request = self._control.wait_while_paused()
            if request is None:
                self._recommand_held_positions()
        if request is Request.FAIL:
            raise self._control.failure  # type: ignore[misc]
        if request is Request.ABORT:
            raise AbortRequested
        self._on_resume()

    def _recommand_held_positions(self) -> None:
        # Someone may have moved a stage by hand during the pause.
        for movement, position in zip(self._held, self._held_positions, strict=True):
            if position is not None:
                movement.position = position


class _Loop:
    """What a movement's loop needs on every pass, worked out on its first pass."""

    def __init__(self, item: MovementItem, buffers: dict[int, MeasurementBuffer]) -> None:
        # The item's own positions, never copied: a reversed pass is a view of them, and a
        # lazy axis stays lazy (each block is computed when the loop reaches it).
        self._forward: Positions = item.positions  # type: ignore[assignment]
        self._backward = (
            self._forward.reversed() if isinstance(self._forward, Linspace) else self._forward[::-1]
        )
        #: Number of positions of a pass.
        self.count = len(self._forward)
        # A short axis (an inner loop run many times) is turned into floats once; a long
        # one a block at a time, so memory does not grow with it.
        self._lists = (
            (self._forward[:].tolist(), self._backward[:].tolist())
            if self.count <= POSITION_BLOCK
            else None
        )
        #: Buffers of the measurements directly under this movement.
        self.buffers = [buffers[id(c)] for c in item.children if isinstance(c, MeasurementItem)]
        #: True when the only child is one measurement: the tight loop applies.
        self.is_line = len(item.children) == 1 and len(self.buffers) == 1
        #: The loop's movement.
        self.instrument = item.instrument
        #: ``move(position)`` does ``item.instrument.position = position``.
        self.move = position_setter(item.instrument)
        self._snake = item.snake
        self._passes = 0

    def next_pass(self) -> bool:
        """Count a pass; True if it runs backwards (every other pass of a snaking loop)."""
        self._passes += 1
        return self._snake and self._passes % 2 == 0

    def pass_positions(self, reverse: bool) -> Positions:
        """The positions of one pass, in the order they are visited."""
        return self._backward if reverse else self._forward

    def floats(self, reverse: bool, start: int, stop: int) -> list[float]:
        """Positions ``start`` to ``stop`` of a pass as Python floats."""
        if self._lists is not None:
            whole = self._lists[reverse]
            return whole if start == 0 and stop >= self.count else whole[start:stop]
        return self.pass_positions(reverse)[start:stop].tolist()

    def each_position(self, reverse: bool) -> Iterator[float]:
        """Every position of a pass as a Python float, converted a block at a time."""
        for start in range(0, self.count, POSITION_BLOCK):
            yield from self.floats(reverse, start, start + POSITION_BLOCK)


def position_setter(movement: Movement) -> Callable[[float], object]:
    """A function doing ``movement.position = value``, for the per-point path.

    An assignment reaches a property's setter through the attribute lookup and a call from
    C into Python; the setter bound to the movement is the same call, which the interpreter
    runs inline (about 40 ns less a point, measured on CPython 3.11). Only a plain property
    on a class with the default ``__setattr__`` is called directly: anything else (a custom
    descriptor, a class that watches its assignments) keeps the assignment.
    """
    kind = type(movement)
    # where an assignment finds it: the first class of the MRO that declares it
    declared = next((vars(c)["position"] for c in kind.__mro__ if "position" in vars(c)), None)
    plain = type(declared) is property and declared.fset is not None
    if plain and kind.__setattr__ is object.__setattr__:
        return MethodType(declared.fset, movement)
    return partial(setattr, movement, "position")


def _split(items: Sequence[Item]) -> list[MovementItem | Block]:
    """Movements stay as they are; runs of sibling measurements become blocks."""
    parts: list[MovementItem | Block] = []
    run: list[MeasurementItem] = []
    for item in items:
        if isinstance(item, MeasurementItem):
            run.append(item)
            continue
        if run:
            parts.append(_group_by_resource(run))
            run = []
        parts.append(item)
    if run:
        parts.append(_group_by_resource(run))
    return parts


def _group_by_resource(items: list[MeasurementItem]) -> Block:
    groups: dict[str, list[MeasurementItem]] = {}
    for item in items:
        groups.setdefault(item.instrument.resource_key, []).append(item)
    return list(groups.values())
