"""The embedded broker of ``make run``: kombu's filesystem transport, with atomic writes.

kombu writes a message file in place, and a consumer may move it away while it is still
empty: the worker then dies on a JSONDecodeError (seen in this project's CI). Here the
message is written beside the queue under a name consumers skip, then renamed into it,
so a consumer sees a whole message or none. Selected by settings for ``filesystem://``.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` onto ``queue`` in one atomic rename."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Consumers only take "<stamp>_<uuid>.<queue>.msg" files: ".<hex>.tmp" is skipped.
        partial = os.path.join(self.data_folder_out, f".{uuid.uuid4().hex}.tmp")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        """Create a new exchange table whole; later changes are made under kombu's lock.

        kombu creates the table file empty, then locks and writes it, so a process reading
        it in between gets no JSON. Linking a complete file into place creates it at once,
        and fails if another process created it first: then kombu's locked update runs.
        """
        table = self._exchange_file(exchange)
        if not table.exists():
            self.control_folder.mkdir(exist_ok=True)
            entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
            partial = self.control_folder / f".{uuid.uuid4().hex}.tmp"
            partial.write_bytes(str_to_bytes(dumps([entry])))
            try:
                os.link(partial, table)
                return
            except FileExistsError:
                pass
            finally:
                partial.unlink(missing_ok=True)
        super()._queue_bind(exchange, routing_key, pattern, queue)


class Transport(filesystem.Transport):
    Channel = Channel
