from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models import Exists, F, Q, Subquery
from django.db.models.sql import UpdateQuery
from django.utils.translation import gettext_lazy as _

from notifications.whatsapp.base import MAX_MESSAGE_LENGTH


class BroadcastStatus(models.TextChoices):
    """Where one parent's message stands. Only broadcasts.services changes it."""

    PENDING = "pending", _("Waiting")
    SENDING = "sending", _("Sending")
    RETRYING = "retrying", _("Waiting to retry")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    # The request reached Fonnte but no answer came back: the parent may or may
    # not have the message, so it is never re-sent without an admin deciding.
    UNKNOWN = "unknown", _("Unknown: check before resending")


#: A worker may claim a row in these states (see services.broadcast_send).
CLAIMABLE_STATUSES = (BroadcastStatus.PENDING, BroadcastStatus.RETRYING)
FINAL_STATUSES = (BroadcastStatus.SENT, BroadcastStatus.FAILED, BroadcastStatus.UNKNOWN)


class MonthlyReportBroadcastQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=BroadcastStatus.PENDING)

    def sending(self):
        return self.filter(status=BroadcastStatus.SENDING)

    def retrying(self):
        return self.filter(status=BroadcastStatus.RETRYING)

    def sent(self):
        return self.filter(status=BroadcastStatus.SENT)

    def failed(self):
        return self.filter(status=BroadcastStatus.FAILED)

    def unknown(self):
        return self.filter(status=BroadcastStatus.UNKNOWN)

    def unfinished(self):
        """Rows that have not reached a final status yet."""
        return self.exclude(status__in=FINAL_STATUSES)

    def update_returning(self, returning, **values) -> list[dict] | None:
        """``update(**values)`` that also reads ``returning`` of each updated row, in one statement.

        One round trip instead of an UPDATE and a SELECT: services.sending claims every
        message's row this way. ``returning`` maps names to field names or expressions (a
        ``Subquery`` with ``OuterRef`` reads a related row), evaluated on the row as updated.
        Values come back as the database driver gives them, without field conversion: ask
        for text and numbers. None where the database has no UPDATE … RETURNING
        (MySQL/MariaDB): nothing was updated, the caller updates and reads in two steps.
        """
        connection = connections[self.db]
        if not _can_return_from_update(connection):
            return None
        query = self.query.chain(UpdateQuery)
        query.add_update_values(values)
        compiler = query.get_compiler(self.db)
        try:
            update_sql, params = compiler.as_sql()
        except EmptyResultSet:  # e.g. pk__in=[]: no row can match, nothing to run
            return []
        columns, column_params = [], []
        for expression in returning.values():
            if isinstance(expression, str):
                expression = F(expression)
            sql, sql_params = compiler.compile(
                expression.resolve_expression(query, allow_joins=False)
            )
            columns.append(sql)
            column_params.extend(sql_params)
        with connection.cursor() as cursor:
            cursor.execute(
                f"{update_sql} RETURNING {', '.join(columns)}", (*params, *column_params)
            )
            return [dict(zip(returning, row, strict=True)) for row in cursor.fetchall()]


def _can_return_from_update(connection) -> bool:
    # PostgreSQL always; SQLite from 3.35, the version that added RETURNING to INSERT too.
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and connection.features.can_return_columns_from_insert


class MonthlyReportBroadcast(models.Model):
    """One guardian's WhatsApp message about one child's monthly report: who was told.

    Never twice: the database holds at most one row per (report, child, number), so two
    guardians of one child who share a number get one message, and one per (report,
    guardian). A number that is guardian of two children gets one message per child.
    """

    # SET_NULL, not CASCADE: deleting a report keeps the record of who was told;
    # rows not sent yet then fail with "Laporan bulanan tidak ditemukan".
    monthly_report = models.ForeignKey(
        "reports.MonthlyReport",
        on_delete=models.SET_NULL,
        null=True,
        related_name="broadcasts",
        verbose_name=_("monthly report"),
    )
    student = models.ForeignKey(
        "students.Student",
        on_delete=models.PROTECT,
        related_name="broadcasts",
        verbose_name=_("student"),
    )
    # The guardian this message is for (students.Guardian); the row keeps the number it was
    # sent to. SET_NULL: removing a guardian keeps the record of who was told.
    guardian = models.ForeignKey(
        "students.Guardian",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="broadcasts",
        verbose_name=_("guardian"),
    )
    phone_number = models.CharField(_("phone number"), max_length=20)
    message = models.TextField(_("message"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=BroadcastStatus.choices,
        default=BroadcastStatus.PENDING,
        # Indexed by the composite indexes in Meta that start with it (no index of its own).
    )
    response = models.TextField(_("Fonnte response"), blank=True)
    error_message = models.TextField(_("error"), blank=True)
    retry_count = models.PositiveSmallIntegerField(
        _("attempts"), default=0, help_text=_("Sending attempts made so far.")
    )
    fonnte_message_id = models.CharField(_("Fonnte message id"), max_length=64, blank=True)
    fonnte_request_id = models.CharField(_("Fonnte request id"), max_length=64, blank=True)
    # Fonnte's status webhook: some events carry only ``stateid``, so it is kept to match them
    # (docs/fonnte-api.md, "Webhooks"). Written by services.receipts.
    fonnte_state_id = models.CharField(
        _("Fonnte state id"), max_length=64, blank=True, db_index=True
    )
    delivery_state = models.CharField(
        _("delivery state"),
        max_length=32,
        blank=True,
        help_text=_("The last state Fonnte reported for the message, e.g. delivered or read."),
    )
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    enqueued_at = models.DateTimeField(_("handed to the workers"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("last attempt started"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    failure_alerted_at = models.DateTimeField(_("admins alerted at"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    # The parent's personal link, SITE_URL/laporan/<link_token>/ (broadcasts.links): random,
    # not derived from any id; empty when the message carries no link (no file for the
    # child). It works for settings.REPORT_LINK_DAYS after link_created_at, until revoked;
    # a resend makes a new one.
    link_token = models.CharField(
        _("link token"), max_length=64, unique=True, null=True, blank=True, editable=False
    )
    link_created_at = models.DateTimeField(_("link made at"), null=True, blank=True)
    link_revoked_at = models.DateTimeField(_("link revoked at"), null=True, blank=True)
    # A person opened the file (not the page: link-preview crawlers fetch the page).
    opened_at = models.DateTimeField(_("first opened at"), null=True, blank=True)
    open_count = models.PositiveIntegerField(_("times opened"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = MonthlyReportBroadcastQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("WhatsApp broadcast")
        verbose_name_plural = _("WhatsApp broadcasts")
        constraints = [
            models.UniqueConstraint(
                fields=["monthly_report", "student", "phone_number"],
                name="one_broadcast_per_report_child_number",
            ),
            models.UniqueConstraint(
                fields=["monthly_report", "guardian"], name="one_broadcast_per_report_guardian"
            ),
        ]
        indexes = [
            models.Index(fields=["monthly_report", "status"], name="broadcast_report_status"),
            models.Index(fields=["status", "updated_at"], name="broadcast_status_updated"),
            # The admin's broadcast list, newest first, whole and filtered by status: its
            # page is read from the index instead of sorting every row.
            models.Index(fields=["-created_at", "-id"], name="broadcast_list_order"),
            models.Index(fields=["status", "-created_at", "-id"], name="broadcast_list_status"),
            # The status webhook finds its row by Fonnte's message id.
            models.Index(fields=["fonnte_message_id"], name="broadcast_fonnte_message_id"),
        ]

    def __str__(self):
        # The student and the report (the admin selects them with the row): what the
        # heading, breadcrumb, history and admin log name. No phone number here.
        report = self.monthly_report if self.monthly_report_id else _("report deleted")
        return f"{self.student.full_name} · {report}"


class BroadcastArchive(models.Model):
    """What stays of a report's broadcast once its rows were pruned: the counts, and a lock.

    A report with an archive is never sent again: its rows were the record of who was
    told, so without them a second send would reach every parent twice.
    """

    monthly_report = models.OneToOneField(
        "reports.MonthlyReport",
        on_delete=models.CASCADE,
        related_name="broadcast_archive",
        verbose_name=_("monthly report"),
    )
    sent = models.PositiveIntegerField(_("sent"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    unknown = models.PositiveIntegerField(_("unknown"), default=0)
    archived_at = models.DateTimeField(_("archived at"), auto_now_add=True)

    class Meta:
        verbose_name = _("archived broadcast")
        verbose_name_plural = _("archived broadcasts")

    def __str__(self):
        return f"{self.monthly_report_id}: {self.sent}/{self.total}"

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.unknown


class BroadcastAttempt(models.Model):
    """One try at sending a row: when, how it ended and why. Written by broadcasts.services."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("Sent")
        RETRY = "retry", _("Will retry")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown")

    broadcast = models.ForeignKey(
        MonthlyReportBroadcast,
        on_delete=models.CASCADE,
        related_name="attempts",
        verbose_name=_("WhatsApp broadcast"),
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    detail = models.TextField(_("detail"), blank=True)
    response = models.TextField(_("Fonnte response"), blank=True)

    class Meta:
        ordering = ["broadcast", "started_at", "id"]
        verbose_name = _("sending attempt")
        verbose_name_plural = _("sending attempts")

    def __str__(self):
        return f"#{self.broadcast_id}.{self.number} {self.get_outcome_display()}"


class MessageTemplate(models.Model):
    """The school's wording of the parents' message: one row, the text in use.

    The row has a fixed primary key, SCHOOL_PK (broadcasts.messages.message_template_get_or_create
    makes it with the default text; migration 0009 moved an older school's row there).
    """

    SCHOOL_PK = 1

    # The filled-in message must fit too: broadcasts.messages.template_errors checks it.
    text = models.TextField(_("message"), max_length=MAX_MESSAGE_LENGTH)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message template")

    def __str__(self):
        return str(_("Parents' WhatsApp message"))


class FonnteDeviceQuerySet(models.QuerySet):
    def school(self):
        """The school's own device: FONNTE_DEVICE_NUMBER when pinned, else the number that
        Fonnte's /device last named (``checked_at``); while neither is known, every device.

        Every device while none is known: the connect webhook then pauses sending for any
        device it names (services.receipts.fonnte_device_record says why that is the safe
        side). One query, usable inside another (the sending claim's EXISTS).
        """
        if settings.FONNTE_DEVICE_NUMBER:
            return self.filter(device=settings.FONNTE_DEVICE_NUMBER)
        checked = FonnteDevice.objects.filter(checked_at__isnull=False)
        newest = checked.order_by("-checked_at", "-pk").values("device")[:1]
        return self.filter(Q(device=Subquery(newest)) | ~Exists(checked))

    def holding_messages(self):
        """The devices whose disconnect holds the school's messages back: the school's own."""
        return self.school().filter(status=FonnteDevice.Status.DISCONNECTED)

    def school_number(self) -> str:
        """The school's device number, pinned or learned; empty while neither is known."""
        if settings.FONNTE_DEVICE_NUMBER:
            return settings.FONNTE_DEVICE_NUMBER
        newest = self.filter(checked_at__isnull=False).order_by("-checked_at", "-pk").first()
        return newest.device if newest else ""


class FonnteDevice(models.Model):
    """A WhatsApp number as Fonnte last reported it (its connect webhook, or /device)."""

    class Status(models.TextChoices):
        CONNECTED = "connect", _("Connected")
        DISCONNECTED = "disconnect", _("Disconnected")

    device = models.CharField(_("device"), max_length=32, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    changed_at = models.DateTimeField(_("changed at"))
    # Set when Fonnte's /device named this number as the one our token sends from: the
    # latest such number is the school's own device (unless FONNTE_DEVICE_NUMBER pins it).
    checked_at = models.DateTimeField(_("checked with Fonnte at"), null=True, blank=True)

    objects = FonnteDeviceQuerySet.as_manager()

    class Meta:
        ordering = ["device"]
        verbose_name = _("WhatsApp device")
        verbose_name_plural = _("WhatsApp devices")
        permissions = [
            ("resume_sending", _("Can check the WhatsApp device and resume sending")),
        ]

    def __str__(self):
        return f"{self.device} · {self.get_status_display()}"


class SendingPace(models.Model):
    """The next free sending slot of the school's WhatsApp number, shared by every worker.

    One row per device; workers reserve slots under a row lock (services.pacing), so the
    pace holds however many worker processes and machines send.
    """

    device = models.CharField(_("device"), max_length=32, unique=True)
    next_slot_at = models.DateTimeField(_("next free slot"), null=True, blank=True)
    day = models.DateField(_("day"), null=True, blank=True)
    sent_on_day = models.PositiveIntegerField(_("messages that day"), default=0)

    class Meta:
        verbose_name = _("sending pace")
        verbose_name_plural = _("sending pace")

    def __str__(self):
        return f"{self.device} · {self.next_slot_at}"
