"""Fanning a run's events out to its Server-Sent Events subscribers.

``EventBroker`` is an engine-wide hook (``runtime.hooks``): the engine calls
it with every event of every run it executes, already scrubbed of secrets.
Each subscriber of a run gets its own trio memory channel with a bounded
buffer (``BUFFER`` events); a subscriber that falls that far behind is cut
off (its stream ends with an ``overflow`` event) rather than making the run
wait or the server's memory grow.  Events are rendered as the trace file
renders them (``trace.event_record``), so ``--trace`` and the stream agree.
"""

from __future__ import annotations

from typing import Any, Final

import trio

from flowc.runtime.hooks import Event
from flowc.runtime.trace import event_record

BUFFER: Final = 1_000
"""Events a subscriber may be behind before it is cut off."""
MAX_SUBSCRIBERS: Final = 100
"""Streams open on one run at once."""


class TooManySubscribers(Exception):
    pass


class EventBroker:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[trio.MemorySendChannel[dict[str, Any]]]] = {}

    def __call__(self, event: Event) -> None:
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
        channels.append(send)
        return receive

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
