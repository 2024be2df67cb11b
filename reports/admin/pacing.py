"""What the report pages say about the sending pace: how long, and why messages wait."""

import math

from django.contrib import messages
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from broadcasts.services.pacing import Waiting, pacing_state


def _say_if_sending_is_held(request):
    """Waiting messages are held back (services.pacing): say why and until when, at the top."""
    if text := _held_text(pacing_state()):
        messages.warning(request, text)


def _held_text(state) -> str:
    """Why and until when pacing holds waiting messages back; empty when it does not."""
    if state.open_now:
        return ""
    until = (
        date_format(timezone.localtime(state.resumes_at), "SHORT_DATETIME_FORMAT")
        if state.resumes_at
        else ""
    )
    if state.waiting == Waiting.DISCONNECTED:
        return _(
            "Sending is paused: Fonnte reports the school's WhatsApp device disconnected. "
            "Waiting messages go out once it is connected again."
        )
    if state.waiting == Waiting.QUIET_HOURS:
        return _("Quiet hours: waiting messages go out from %(time)s.") % {"time": until}
    return _(
        "Today's limit of %(n)d WhatsApp messages is reached: waiting messages go out "
        "from %(time)s."
    ) % {"n": state.daily_limit, "time": until}


def _pacing_note(recipients) -> str:
    """For the confirmation page: how long the messages take at the pace, and any hold."""
    state = pacing_state()
    parts = []
    if state.per_minute and recipients:
        minutes = math.ceil(recipients / state.per_minute)
        parts.append(
            ngettext(
                "Messages go out one by one, at most %(rate)s a minute, to protect the "
                "school's number: these take about %(n)d minute.",
                "Messages go out one by one, at most %(rate)s a minute, to protect the "
                "school's number: these take about %(n)d minutes.",
                minutes,
            )
            % {"rate": f"{state.per_minute:g}", "n": minutes}
        )
    if held := _held_text(state):
        parts.append(held)
    return " ".join(parts)
