"""The embedded broker never hands a consumer a half-written message.

kombu keeps the filesystem transport's bindings in one process-wide table: a process
publishes through an exchange table file only after some connection of that process
wrote it. The tests therefore declare a queue before racing on it, and the declare race
runs in separate processes, as the web server and the workers do.
"""

import multiprocessing
import threading

from kombu import Connection

from tkassalam.embedded_broker import Transport


def connection(folder):
    return Connection(
        "filesystem://",
        transport=Transport,
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.05,
        },
    )


def test_a_consumer_racing_a_producer_gets_every_message_whole(tmp_path):
    total = 100
    received, errors = [], []

    def consume():
        with connection(tmp_path) as conn:
            queue = conn.SimpleQueue("race")
            try:
                while len(received) < total:
                    message = queue.get(timeout=60)  # generous: CI machines are busy
                    received.append(message.payload["n"])
                    message.ack()
            except Exception as err:  # the test reports whatever broke the consumer
                errors.append(err)
            finally:
                queue.close()

    with connection(tmp_path) as conn:  # the table file exists before the race starts
        conn.SimpleQueue("race").close()
    reader = threading.Thread(target=consume)
    reader.start()
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("race")
        for n in range(total):
            queue.put({"n": n, "padding": "x" * 2000})
        queue.close()
    reader.join(timeout=120)

    assert errors == [], f"received {len(received)} of {total}"
    assert sorted(received) == list(range(total))
    assert not [name for name in tmp_path.rglob("*.tmp")]


def declare_and_publish(folder, n):
    with connection(folder) as conn:
        queue = conn.SimpleQueue(f"q{n % 3}")
        queue.put({"n": n})
        queue.close()


def test_processes_declaring_a_queue_at_once_never_read_an_empty_table(tmp_path):
    """The exchange table is created whole: every process's declare/publish pair succeeds."""
    context = multiprocessing.get_context("spawn")  # each process with kombu's state fresh
    with context.Pool(4) as pool:
        pool.starmap(declare_and_publish, [(tmp_path, n) for n in range(24)])
    with connection(tmp_path) as conn:
        arrived = {}
        for name in ("q0", "q1", "q2"):
            queue = conn.SimpleQueue(name)
            while True:
                try:
                    message = queue.get(timeout=0.5)
                except queue.Empty:
                    break
                arrived[message.payload["n"]] = name
                message.ack()
            queue.close()
    assert arrived == {n: f"q{n % 3}" for n in range(24)}
