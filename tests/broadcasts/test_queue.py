"""broadcasts.queue against a real broker: the depth of an empty and a filled Redis queue."""

from broadcasts import queue


def test_an_empty_redis_queue_has_depth_zero_not_an_error(redis_broker):
    assert queue.queue_depth() == queue.QueueDepth(0)


def test_redis_queue_depth_counts_waiting_messages(redis_broker, publish_messages):
    publish_messages(3)
    assert queue.queue_depth().messages == 3


def test_an_unreachable_broker_gives_a_reason_not_an_exception(broker_url):
    broker_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    depth = queue.queue_depth()
    assert depth.messages is None
    assert "Connection refused" in depth.error
