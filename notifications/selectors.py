"""Reads about admins' notifications, and about the WhatsApp device before a broadcast."""

import logging
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from .models import Notification
from .whatsapp import DeviceState, DeviceStatus, WhatsAppError, get_backend

logger = logging.getLogger(__name__)


def notification_unread_count(*, user) -> int:
    """How many of ``user``'s own notifications are unread: one COUNT on the unread index."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user).unread().count()


#: Seconds the confirmation page waits for Fonnte's /device: it must render quickly.
DEVICE_STATUS_TIMEOUT = 3.0


@dataclass(frozen=True)
class DeviceReadiness:
    """The sending device against a broadcast's recipients, for the confirmation page."""

    recipients: int
    #: None when the state could not be read; ``error`` then says why (may be empty).
    status: DeviceStatus | None = None
    error: str = ""

    @property
    def readable(self) -> bool:
        return self.status is not None and self.status.state != DeviceState.UNKNOWN

    @property
    def disconnected(self) -> bool:
        return self.status is not None and self.status.disconnected

    @property
    def quota(self) -> int | None:
        return self.status.quota if self.status is not None else None

    @property
    def quota_short(self) -> bool:
        return self.quota is not None and self.quota < self.recipients


def whatsapp_device_readiness(*, recipients: int) -> DeviceReadiness:
    """The device's connection and quota from the backend, never raising: a page shows it."""
    try:
        status = get_backend().device_status(timeout=DEVICE_STATUS_TIMEOUT)
    except WhatsAppError as err:
        return DeviceReadiness(recipients=recipients, error=err.reason)
    except NotImplementedError:
        # A backend without a device: nothing could be read, and nothing is wrong.
        return DeviceReadiness(recipients=recipients)
    except ImproperlyConfigured as err:
        # A missing token or backend (`check` reports it too): the English detail names a
        # setting only the operator can change, so it goes to the log, not the admin's page.
        logger.warning("WhatsApp device state not read, the settings are incomplete: %s", err)
        return DeviceReadiness(
            recipients=recipients,
            error=_(
                "WhatsApp settings are incomplete: contact the operator, who finds "
                "the details in the server log"
            ),
        )
    return DeviceReadiness(recipients=recipients, status=status)
