"""Fanning a run's events out to its Server-Sent Events subscribers.

``EventBroker`` is an engine-wide hook (``runtime.hooks``): the engine calls
it with every event of every run it executes, already scrubbed of secrets.
Each subscriber of a run gets its own trio memory channel with a bounded
buffer (``BUFFER`` events); a subscriber that falls that far behind is cut
off (its stream ends with an ``overflow`` event) rather than making the run
wait or the server's memory grow.  Events are rendered as the trace file
renders them (``trace.event_record``), so ``--trace`` and the stream agree.

A stream opened while a run is under way would miss what already happened.
What ended is in the store (the journal's steps); what is still in flight is
not, so the broker keeps, for each run it sees, the events of the steps that
have started and not finished (at most ``MAX_IN_FLIGHT`` steps, as the event
objects, rendered only when someone subscribes) and replays them at the head
of every new stream.  The web UI's run page therefore shows a step running
even if it was opened after the step began.
"""

from __future__ import annotations

from typing import Any, Final

import trio

from flowc.runtime.hooks import (
    AttemptFinished,
    AttemptStarted,
    Event,
    RunFinished,
    StepFailed,
    StepFinished,
    StepRetrying,
    StepStarted,
)
from flowc.runtime.trace import event_record

BUFFER: Final = 1_000
"""Events a subscriber may be behind before it is cut off."""
MAX_SUBSCRIBERS: Final = 100
"""Streams open on one run at once."""
_STEP_EVENTS: Final = (StepStarted, AttemptStarted, AttemptFinished, StepRetrying, StepFailed)
MAX_IN_FLIGHT: Final = 2_000
"""Steps of one run whose events are kept for a stream that opens later."""


class TooManySubscribers(Exception):
    pass


class EventBroker:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[trio.MemorySendChannel[dict[str, Any]]]] = {}
        self._in_flight: dict[str, dict[str, list[Event]]] = {}

    def __call__(self, event: Event) -> None:
        self._keep(event)
        channels = self._subscribers.get(event.run_id)
        if not channels:
            return
        record = event_record(event)
        for channel in list(channels):
            try:
                channel.send_nowait(record)
            except trio.WouldBlock:
                channels.remove(channel)
                channel.close()  # the reader sees the end and reports the overflow
            except trio.BrokenResourceError:
                channels.remove(channel)

    def subscribe(self, run_id: str) -> trio.MemoryReceiveChannel[dict[str, Any]]:
        channels = self._subscribers.setdefault(run_id, [])
        if len(channels) >= MAX_SUBSCRIBERS:
            raise TooManySubscribers(run_id)
        send, receive = trio.open_memory_channel[dict[str, Any]](BUFFER)
        for events in list(self._in_flight.get(run_id, {}).values()):
            for event in events:
                if send.statistics().current_buffer_used >= BUFFER // 2:
                    break
                send.send_nowait(event_record(event))
        channels.append(send)
        return receive

    def _keep(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self._in_flight.pop(event.run_id, None)
            return
        if isinstance(event, StepFinished):
            self._in_flight.get(event.run_id, {}).pop(event.step, None)
            return
        if not isinstance(event, _STEP_EVENTS):
            return
        steps = self._in_flight.setdefault(event.run_id, {})
        step = event.step
        if step in steps:
            steps[step].append(event)
        elif len(steps) < MAX_IN_FLIGHT:
            steps[step] = [event]

    def in_flight(self, run_id: str) -> int:
        """Steps of the run that started and have not finished (as far as seen)."""
        return len(self._in_flight.get(run_id, {}))

    def unsubscribe(self, run_id: str, receive: trio.MemoryReceiveChannel[dict[str, Any]]) -> None:
        receive.close()
        channels = self._subscribers.get(run_id, [])
        alive = [c for c in channels if c.statistics().open_receive_channels > 0]
        if alive:
            self._subscribers[run_id] = alive
        else:
            self._subscribers.pop(run_id, None)

    def subscribers(self, run_id: str) -> int:
        return len(self._subscribers.get(run_id, []))
