"""Mail sent off the request path: password resets and invitations.

The password-reset page must answer an address that exists exactly as it answers one that
does not, in the same time. Looking the person up, rendering the mail and talking to the
mail server (the slow part: an SMTP round trip is tens to hundreds of milliseconds) happen
in a daemon thread after the page has answered. The thread opens its own database
connection and closes it when done.

A mail that is being sent when its process stops (a gunicorn worker restarted) is lost,
like one the mail server refuses; the person asks again.

KLAXON_BACKGROUND_MAIL = False sends on the request path instead (tests do, so that the
mail is in the outbox when the response arrives and the thread sees the test's
uncommitted data).
"""

import logging
import threading

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)


def off_the_request(job, *args, **kwargs) -> None:
    """Run `job(*args, **kwargs)` after the answer, in a thread of its own."""
    if not getattr(settings, "KLAXON_BACKGROUND_MAIL", True):
        try:
            job(*args, **kwargs)
        except Exception:  # A mail server's failure never fails the request that sends.
            logger.exception("Sending mail failed")
        return
    threading.Thread(target=_run, args=(job, args, kwargs), name="klaxon-mail", daemon=True).start()


def _run(job, args, kwargs) -> None:
    try:
        job(*args, **kwargs)
    except Exception:
        logger.exception("Sending mail off the request path failed")
    finally:
        connections.close_all()
