"""The Celery app: workers keep their database connection between tasks, minus old ones."""

import time
from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from tkassalam.celery import _close_old_connections, app


def task(is_eager):
    return SimpleNamespace(request=SimpleNamespace(is_eager=is_eager))


def test_celerys_django_fixup_reuses_the_connection():
    # Read under this name by celery.fixups.django; unset, it closes it around every task.
    assert DjangoWorkerFixup(app).db_reuse_max == 1000


@pytest.mark.django_db(transaction=True)
def test_a_connection_older_than_conn_max_age_is_closed_before_a_task():
    connection.ensure_connection()
    connection.close_at = time.monotonic() + 60
    _close_old_connections(sender=task(is_eager=False))
    assert connection.connection is not None  # young: kept for the next task

    connection.close_at = time.monotonic() - 1
    _close_old_connections(sender=task(is_eager=False))
    assert connection.connection is None


@pytest.mark.django_db
def test_an_eager_task_leaves_the_callers_connection_alone():
    connection.ensure_connection()
    close_at, connection.close_at = connection.close_at, time.monotonic() - 1
    try:
        _close_old_connections(sender=task(is_eager=True))
        assert connection.connection is not None
    finally:
        connection.close_at = close_at  # the connection is shared with the next tests
