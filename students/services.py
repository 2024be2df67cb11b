"""Changes to students that need the outside world: checking guardians' numbers on WhatsApp."""

import contextlib
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from notifications.whatsapp import get_backend
from notifications.whatsapp.base import VALIDATE_CHUNK

from .models import Guardian, WhatsAppCheckLease
from .phones import InvalidPhoneNumber, normalize_phone

logger = logging.getLogger(__name__)

#: Seconds added to a lease beyond the calls' own timeouts (database writes, clock drift).
LEASE_MARGIN = 30
_LEASE_PK = 1


class WhatsAppCheckBusy(Exception):
    """Another process is calling Fonnte's /validate: try again in a moment."""


@dataclass(frozen=True)
class WhatsAppCheck:
    """What one check found, counted in guardians."""

    registered: int = 0
    not_registered: int = 0
    #: Numbers Fonnte named in neither list: left as they were.
    unknown: int = 0
    #: Numbers that are no Indonesian mobile number: not asked, left unchecked.
    invalid: int = 0

    @property
    def checked(self) -> int:
        return self.registered + self.not_registered


@contextlib.contextmanager
def whatsapp_check_lease(*, seconds: float):
    """Hold the one /validate lease for ``seconds`` at most, or raise WhatsAppCheckBusy.

    One conditional UPDATE takes the lease only when it is free or expired, so of two
    processes racing, exactly one matches the row, on SQLite, PostgreSQL and MariaDB
    alike. No transaction stays open during the HTTP calls: a process that dies while
    holding the lease blocks the others only until it expires.
    """
    WhatsAppCheckLease.objects.get_or_create(pk=_LEASE_PK)
    holder = uuid.uuid4().hex
    now = timezone.now()
    taken = (
        WhatsAppCheckLease.objects.filter(pk=_LEASE_PK)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__lte=now))
        .update(holder=holder, expires_at=now + timedelta(seconds=seconds))
    )
    if not taken:
        raise WhatsAppCheckBusy("Another WhatsApp number check is running.")
    try:
        yield holder
    finally:
        WhatsAppCheckLease.objects.filter(pk=_LEASE_PK, holder=holder).update(
            holder="", expires_at=None
        )


def student_check_whatsapp(*, student_ids) -> WhatsAppCheck:
    """Ask the WhatsApp backend which of these students' guardians' numbers have WhatsApp.

    Records the answer on each guardian. Holds the /validate lease (WhatsAppCheckBusy when
    another check runs) and raises the backend's WhatsAppError when the check fails;
    nothing is recorded then. A guardian whose number changed while the check ran keeps
    the new number's (unchecked) state. A number shared by guardians is asked once.
    """
    ids = list(student_ids)
    phones_by_number: dict[str, set[str]] = {}
    pks_by_number: dict[str, set[int]] = {}
    invalid = 0
    guardians = Guardian.objects.filter(student_id__in=ids).exclude(phone="")
    for pk, phone in guardians.values_list("pk", "phone"):
        try:
            number = normalize_phone(phone)
        except InvalidPhoneNumber:
            invalid += 1  # refused at send time already, with the reason
            continue
        phones_by_number.setdefault(number, set()).add(phone)
        pks_by_number.setdefault(number, set()).add(pk)
    if not pks_by_number:
        return WhatsAppCheck(invalid=invalid)

    calls = math.ceil(len(pks_by_number) / VALIDATE_CHUNK)
    per_call = settings.FONNTE_CONNECT_TIMEOUT + settings.FONNTE_READ_TIMEOUT
    with whatsapp_check_lease(seconds=calls * per_call + LEASE_MARGIN):
        result = get_backend().validate_numbers(sorted(pks_by_number))

    now = timezone.now()
    counts = {}
    for registered, numbers in ((True, result.registered), (False, result.not_registered)):
        pks = {pk for number in numbers for pk in pks_by_number.get(number, ())}
        phones = {phone for number in numbers for phone in phones_by_number.get(number, ())}
        # Guarded by the number: a guardian whose number changed since it was read
        # matches only if the new number got the same answer in this very check.
        counts[registered] = Guardian.objects.filter(pk__in=pks, phone__in=phones).update(
            whatsapp_registered=registered, whatsapp_checked_at=now
        )
    outcome = WhatsAppCheck(
        registered=counts[True],
        not_registered=counts[False],
        unknown=sum(len(pks_by_number[number]) for number in result.unknown),
        invalid=invalid,
    )
    logger.info(
        "WhatsApp check of the guardians of %d students: %d on WhatsApp, %d not, %d unknown, "
        "%d invalid",
        len(ids),
        outcome.registered,
        outcome.not_registered,
        outcome.unknown,
        outcome.invalid,
        extra={"students": len(ids)},
    )
    return outcome


def student_queue_whatsapp_check(*, student_ids) -> int:
    """After commit, have workers check these students' numbers; return how many tasks.

    Never calls Fonnte itself, so an import or a form save never waits for it. With
    ``WHATSAPP_RUNNER = "cron"`` nothing is queued: ``manage.py check_whatsapp_numbers``
    checks every unchecked number.
    """
    if settings.WHATSAPP_RUNNER != "celery":
        return 0
    from . import tasks  # tasks import this module

    chunks = whatsapp_check_batches(student_ids=student_ids)
    for chunk in chunks:
        # robust: a broker outage must not turn a saved import into an error page; the
        # students stay unchecked and the command (or the admin action) checks them later.
        transaction.on_commit(
            lambda chunk=chunk: tasks.check_whatsapp_numbers.delay(student_ids=chunk), robust=True
        )
    return len(chunks)


def whatsapp_check_batches(*, student_ids) -> list[list[int]]:
    """These students in batches whose guardians' numbers fit one /validate call each.

    A child may have several guardians: batches count numbers, not children, so that one
    task or one step of the command makes one Fonnte call and fits the Celery time limit
    (connect + read timeout + 30 s). A child with more numbers than a call takes (never
    seen) is a batch of its own.
    """
    ids = sorted(set(student_ids))
    numbers = {}
    for start in range(0, len(ids), VALIDATE_CHUNK):
        numbers.update(
            Guardian.objects.filter(student_id__in=ids[start : start + VALIDATE_CHUNK])
            .exclude(phone="")
            .order_by()
            .values("student_id")
            .annotate(numbers=Count("pk"))
            .values_list("student_id", "numbers")
        )
    batches, size = [], 0
    for pk in ids:
        count = numbers.get(pk, 0)
        if not batches or size + count > VALIDATE_CHUNK:
            batches.append([])
            size = 0
        batches[-1].append(pk)
        size += count
    return batches


def students_needing_whatsapp_check(*, recheck: bool = False):
    """Students with a guardian's number whose WhatsApp state is unknown (``recheck``: any)."""
    guardians = Guardian.objects.exclude(phone="")
    if not recheck:
        guardians = guardians.filter(whatsapp_registered__isnull=True)
    return guardians.order_by("student_id").values_list("student_id", flat=True).distinct()
