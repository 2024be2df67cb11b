"""FonnteBackend: send, device status and number checks, through one HTTP funnel."""

import logging
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from students.phones import mask_phone

from ..base import (
    VALIDATE_CHUNK,
    BaseBackend,
    DeviceState,
    DeviceStatus,
    SendResult,
    ValidationResult,
    in_school_language,
)
from ..errors import OutcomeUnknown, SenderRejected, TemporaryFailure, WhatsAppError
from .parsing import _first_id, _flag, _json_object, _numbers, _reason, _text, _whole_number
from .reasons import (
    DEVICE_STATES,
    GATEWAY_TIMEOUT_HTTP_CODES,
    MAX_RAW_RESPONSE,
    SENDER_HTTP_CODES,
    classify_reason,
)
from .transport import _describe, _sent_without_answer, _session_for, _sibling_url

logger = logging.getLogger(__name__)


class FonnteBackend(BaseBackend):
    """Sends through Fonnte's ``/send`` endpoint, reusing one HTTP session."""

    name = "fonnte"

    def __init__(
        self,
        *,
        token: str,
        url: str,
        connect_timeout: float,
        read_timeout: float,
        session: requests.Session | None = None,
    ):
        token = (token or "").strip()
        url = (url or "").strip()
        if not token:
            raise ImproperlyConfigured(
                "FONNTE_API_TOKEN is empty: set it to the device token from the Fonnte dashboard."
            )
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ImproperlyConfigured(
                "FONNTE_URL must be an http(s) address such as https://api.fonnte.com/send."
            )
        if not connect_timeout or connect_timeout <= 0 or not read_timeout or read_timeout <= 0:
            raise ImproperlyConfigured(
                "FONNTE_CONNECT_TIMEOUT and FONNTE_READ_TIMEOUT must be positive numbers."
            )
        self._token = token
        self.url = url
        # /device and /validate sit beside /send: FONNTE_URL's base names all three.
        self.device_url = _sibling_url(url, "device")
        self.validate_url = _sibling_url(url, "validate")
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        # One session per backend: keeps the TLS connection to Fonnte open between
        # messages. requests does not retry by default, which is what we want: a
        # retried POST could reach the parent twice.
        self._session = session if session is not None else _session_for(url)

    def __repr__(self):
        # Never the token.
        return (
            f"<{type(self).__name__} url={self.url!r} connect_timeout={self.connect_timeout}"
            f" read_timeout={self.read_timeout}>"
        )

    @in_school_language
    def send(self, *, phone: str, message: str) -> SendResult:
        """POST one message to one number; return what Fonnte accepted or raise a WhatsAppError."""
        masked = mask_phone(phone)
        data = {
            "target": str(phone),
            "message": str(message),
            # We send already-normalized 62… numbers; "0" turns off Fonnte's rewrite of a
            # leading 0 (https://docs.fonnte.com/api-send-message/, countryCode).
            "countryCode": "0",
        }
        try:
            response = self._post(self.url, data)
            result = self._parse(response)
        except WhatsAppError as err:
            logger.warning(
                "WhatsApp message to %s not sent (%s): %s",
                masked,
                type(err).__name__,
                err.reason,
                extra={"phone": masked, "status_code": err.status_code},
            )
            raise
        # DEBUG: the caller logs the outcome with its own context (broadcasts: one INFO line
        # per message, with the row, the NIS and these ids).
        logger.debug(
            "WhatsApp message to %s accepted by Fonnte: id %s, request %s",
            masked,
            result.message_id or "-",
            result.request_id or "-",
            extra={"phone": masked, "message_id": result.message_id},
        )
        return result

    @in_school_language
    def device_status(self, *, timeout: float | None = None) -> DeviceStatus:
        """POST /device: the device's connection, remaining quota and package.

        ``timeout`` (seconds) caps both the connect and the read timeout, for a page
        that must render quickly whatever Fonnte does.
        """
        try:
            body, raw = self._read_only_call(self.device_url, {}, timeout=timeout)
        except WhatsAppError as err:
            logger.warning(
                "Fonnte device status not read (%s): %s",
                type(err).__name__,
                err.reason,
                extra={"status_code": err.status_code},
            )
            raise
        state = DEVICE_STATES.get(_text(body.get("device_status")).casefold(), DeviceState.UNKNOWN)
        return DeviceStatus(
            state=state,
            device=_text(body.get("device")),
            quota=_whole_number(body.get("quota")),
            package=_text(body.get("package")),
            expires=_text(body.get("expired")),
            raw_response=raw,
        )

    @in_school_language
    def validate_numbers(self, numbers) -> ValidationResult:
        """POST /validate: which numbers have WhatsApp, VALIDATE_CHUNK numbers per call.

        Longer lists are split and sent one call after the other, never in parallel
        (Fonnte: "never two calls at once"); keeping two *processes* apart is the
        caller's job (students.services holds a database lease). A failing call raises
        its WhatsAppError and the numbers of earlier calls are not returned: check again.
        """
        wanted = list(dict.fromkeys(str(number).strip() for number in numbers if number))
        registered, not_registered, raws = set(), set(), []
        for start in range(0, len(wanted), VALIDATE_CHUNK):
            chunk = wanted[start : start + VALIDATE_CHUNK]
            data = {
                "target": ",".join(chunk),
                # Our numbers start with 62, never 0, so the rewrite never applies; the
                # docs show /validate only with 62 (https://docs.fonnte.com/api-validate-number/).
                "countryCode": "62",
            }
            try:
                body, raw = self._read_only_call(self.validate_url, data)
            except WhatsAppError as err:
                logger.warning(
                    "Fonnte number check of %d numbers failed (%s): %s",
                    len(chunk),
                    type(err).__name__,
                    err.reason,
                    extra={"numbers": len(chunk), "status_code": err.status_code},
                )
                raise
            raws.append(raw)
            asked = set(chunk)
            registered |= asked & _numbers(body.get("registered"))
            not_registered |= asked & _numbers(body.get("not_registered"))
        # A number in both lists is not trusted either way.
        both = registered & not_registered
        registered -= both
        not_registered -= both
        result = ValidationResult(
            registered=frozenset(registered),
            not_registered=frozenset(not_registered),
            unknown=frozenset(set(wanted) - registered - not_registered),
            raw_responses=tuple(raws),
        )
        logger.info(
            "Fonnte number check: %d on WhatsApp, %d not, %d unknown",
            len(result.registered),
            len(result.not_registered),
            len(result.unknown),
            extra={"calls": len(raws)},
        )
        return result

    def _read_only_call(
        self, url: str, data: dict[str, str], *, timeout: float | None = None
    ) -> tuple[dict, str]:
        """POST a question that changes nothing at Fonnte; return its checked body and raw text.

        Nothing is sent to a parent, so an answer that never came is simply a passing
        failure, never "outcome unknown".
        """
        timeouts = (self.connect_timeout, self.read_timeout)
        if timeout is not None:
            timeouts = (min(timeouts[0], timeout), min(timeouts[1], timeout))
        try:
            response = self._post(url, data, timeout=timeouts)
        except OutcomeUnknown as err:
            raise TemporaryFailure(
                _("Fonnte did not answer within %(seconds)s seconds")
                % {"seconds": f"{timeouts[1]:g}"},
                raw_response=err.raw_response,
                status_code=err.status_code,
            ) from err
        try:
            return self._checked_body(response)
        except OutcomeUnknown as err:  # a gateway timeout: a question can be asked again
            raise TemporaryFailure(
                _("Fonnte answered HTTP %(code)s: its gateway stopped waiting for the answer")
                % {"code": err.status_code},
                raw_response=err.raw_response,
                status_code=err.status_code,
            ) from err

    # --- HTTP ------------------------------------------------------------------

    def _post(
        self, url: str, data: dict[str, str], *, timeout: tuple[float, float] | None = None
    ) -> requests.Response:
        """The one place that talks HTTP: always with both timeouts, errors wrapped."""
        connect_timeout, read_timeout = timeout or (self.connect_timeout, self.read_timeout)
        try:
            return self._session.post(
                url,
                data=data,
                headers={"Authorization": self._token},  # raw token, no "Bearer"
                timeout=(connect_timeout, read_timeout),
                # A redirect would turn the POST into a GET; treat it as a wrong FONNTE_URL.
                allow_redirects=False,
            )
        except requests.ConnectTimeout as err:
            # Never connected, so nothing was sent.
            raise TemporaryFailure(
                _("Could not connect to Fonnte within %(seconds)s seconds")
                % {"seconds": f"{connect_timeout:g}"}
            ) from err
        except requests.ReadTimeout as err:
            raise OutcomeUnknown(
                _(
                    "Fonnte did not answer within %(seconds)s seconds after the message was"
                    " sent; it may still have been queued"
                )
                % {"seconds": f"{read_timeout:g}"}
            ) from err
        except requests.ConnectionError as err:
            if _sent_without_answer(err):
                raise OutcomeUnknown(
                    _(
                        "The connection to Fonnte dropped after the message was sent;"
                        " it may still have been queued"
                    )
                ) from err
            # Refused, DNS failure, TLS handshake, proxy: the request never left.
            raise TemporaryFailure(
                _("Could not reach Fonnte: %(error)s") % {"error": self._redact(_describe(err))}
            ) from err
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as err:
            raise OutcomeUnknown(
                _("Fonnte's answer broke off or could not be read; it may still have been queued")
            ) from err
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
        ) as err:
            raise SenderRejected(
                _("FONNTE_URL is not usable: %(error)s") % {"error": self._redact(_describe(err))}
            ) from err
        except requests.RequestException as err:
            raise TemporaryFailure(
                _("The request to Fonnte failed: %(error)s")
                % {"error": self._redact(_describe(err))}
            ) from err

    # --- Response ----------------------------------------------------------------

    def _parse(self, response: requests.Response) -> SendResult:
        """Turn Fonnte's answer into a SendResult, or raise the matching WhatsAppError."""
        body, raw = self._checked_body(response)
        return SendResult(
            message_id=_first_id(body.get("id")),
            request_id=_text(body.get("requestid")),
            detail=_text(body.get("detail")) or _reason(body),
            raw_response=raw,
        )

    def _checked_body(self, response: requests.Response) -> tuple[dict, str]:
        """The body of an answer with ``"status": true`` and the raw text, else a WhatsAppError."""
        code = response.status_code
        raw = self._redact(response.text)[:MAX_RAW_RESPONSE]
        body = _json_object(raw)
        reason = _reason(body) if body is not None else ""

        if not 200 <= code < 300:
            # The code, not the status line's English phrase: the reason is read in the
            # school's language. Fonnte's own reason stays as it came, quoted.
            status = {"status": code, "reason": reason}
            if reason:
                summary = _('Fonnte answered HTTP %(status)s: "%(reason)s"') % status
            else:
                summary = _("Fonnte answered HTTP %(status)s") % status
            if code in SENDER_HTTP_CODES:
                raise SenderRejected(summary, raw_response=raw, status_code=code)
            if code in GATEWAY_TIMEOUT_HTTP_CODES:
                raise OutcomeUnknown(
                    _(
                        "%(summary)s: the gateway before Fonnte stopped waiting for its"
                        " answer; the message may still have been queued"
                    )
                    % {"summary": summary},
                    raw_response=raw,
                    status_code=code,
                )
            if 300 <= code < 400:
                location = self._redact(response.headers.get("Location", ""))
                raise SenderRejected(
                    _('%(summary)s; FONNTE_URL redirects to "%(location)s", use that address')
                    % {"summary": summary, "location": location},
                    raw_response=raw,
                    status_code=code,
                )
            # 5xx, 429 and any other code: Fonnte or a proxy in between is not well now.
            raise TemporaryFailure(summary, raw_response=raw, status_code=code)

        if body is None:
            raise TemporaryFailure(
                _("Fonnte answered HTTP %(code)s with a body that is not a JSON object")
                % {"code": code},
                raw_response=raw,
                status_code=code,
            )

        status = _flag(body.get("status"))
        if status is True:
            return body, raw
        if status is None:
            raise TemporaryFailure(
                _("Fonnte answered HTTP %(code)s without a status") % {"code": code},
                raw_response=raw,
                status_code=code,
            )

        # Classified on Fonnte's own words; the admin reads them quoted, untranslated.
        error_class = classify_reason(reason)
        raise error_class(
            _('Fonnte answered: "%(reason)s"') % {"reason": reason}
            if reason
            else _("Fonnte refused without giving a reason"),
            raw_response=raw,
            status_code=code,
        )

    def _redact(self, text: str) -> str:
        """Remove the token from text we keep or show, in case anything ever echoes it."""
        return text.replace(self._token, "[token]") if self._token else text
