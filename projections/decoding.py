"""Turning stored events back into domain events, fast.

The library's mapper decodes with the `json` module and an object hook: about 20 µs
an event, as much as the rest of a projection's work. For the stored form the
application writes (JSON, no cipher, no compression) this decoder parses with orjson
and converts the top-level `{"_type_", "_data_"}` values with the transcoder's own
transcodings, building the same event object the mapper builds. Anything else
(nested structures, class versions, other transcoders, bytes orjson rejects) goes
through the mapper, so the result is always the mapper's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Mapper, find_id_convertor
from eventsourcing.utils import resolve_topic


class _CachedUUIDs:
    """UUIDAsHex's decoding, remembering recent values: the same thread, author and
    actor ids recur in most events (UUIDs are immutable, so sharing one is safe)."""

    def __init__(self, size: int = 50_000):
        self.size = size
        self.known: dict[str, UUID] = {}

    def decode(self, data: str) -> UUID:
        found = self.known.get(data)
        if found is None:
            if len(self.known) >= self.size:
                self.known.clear()
            found = self.known[data] = UUID(data)
        return found


class EventDecoder:
    def __init__(self, mapper: Mapper):
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.fast = (
            type(transcoder) is JSONTranscoder
            and mapper.cipher is None
            and mapper.compressor is None
        )
        self.names: dict[str, Any] = dict(transcoder.names) if self.fast else {}
        uuid_hex = self.names.get("uuid_hex")
        if uuid_hex is not None and getattr(uuid_hex, "type", None) is UUID:
            self.names["uuid_hex"] = _CachedUUIDs()
        self._classes: dict[tuple[str, type], tuple[type, Any] | None] = {}

    def _class(self, topic: str, id_type: type) -> tuple[type, Any] | None:
        """(event class, id convertor) for a topic, or None: use the mapper."""
        key = (topic, id_type)
        try:
            return self._classes[key]
        except KeyError:
            pass
        cls = resolve_topic(topic)  # raises TopicError for unknown topics
        found = None
        if getattr(cls, "class_version", 1) == 1:
            found = (cls, find_id_convertor(cls, id_type))
        self._classes[key] = found
        return found

    def decode(self, stored: Any) -> Any:
        if not self.fast:
            return self.mapper.to_domain_event(stored)
        found = self._class(stored.topic, type(stored.originator_id))
        if found is None:
            return self.mapper.to_domain_event(stored)
        try:
            state = orjson.loads(stored.state)
        except orjson.JSONDecodeError:
            return self.mapper.to_domain_event(stored)
        if type(state) is not dict or "class_version" in state:
            return self.mapper.to_domain_event(stored)
        names = self.names
        for key, value in state.items():
            kind = type(value)
            if kind is dict:
                if len(value) != 2 or "_type_" not in value or "_data_" not in value:
                    return self.mapper.to_domain_event(stored)
                transcoding = names.get(value["_type_"])
                data = value["_data_"]
                if transcoding is None or type(data) is not str:
                    return self.mapper.to_domain_event(stored)
                state[key] = transcoding.decode(data)
            elif kind is list:
                return self.mapper.to_domain_event(stored)
        cls, id_convertor = found
        state["originator_id"] = id_convertor(stored.originator_id)
        state["originator_version"] = stored.originator_version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def timestamp(self, stored: Any) -> datetime | None:
        """When an event was recorded, even if its class cannot be found any more."""
        try:
            data = orjson.loads(stored.state)["timestamp"]["_data_"]
            return datetime.fromisoformat(data)
        except Exception:
            try:
                return self.mapper.to_domain_event(stored).timestamp
            except Exception:
                return None
