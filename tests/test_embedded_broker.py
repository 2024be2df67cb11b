"""The embedded broker never hands a consumer a half-written message."""

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

    reader = threading.Thread(target=consume)
    reader.start()
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("race")
        for n in range(total):
            queue.put({"n": n, "padding": "x" * 2000})
        queue.close()
    reader.join(timeout=120)

    assert errors == []
    assert sorted(received) == list(range(total))
    assert not [name for name in tmp_path.rglob("*.tmp")]


def test_two_processes_declaring_a_queue_at_once_never_read_an_empty_table(tmp_path):
    """The exchange table is created whole: every declare/publish pair succeeds."""
    errors = []

    def declare_and_publish(n):
        try:
            with connection(tmp_path) as conn:
                queue = conn.SimpleQueue(f"q{n % 3}")
                queue.put({"n": n})
                queue.close()
        except Exception as err:  # the test reports whatever broke
            errors.append(err)

    threads = [threading.Thread(target=declare_and_publish, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
