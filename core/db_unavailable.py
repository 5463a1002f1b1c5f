"""A database outage answers 503 with Retry-After, not a 500.

When PostgreSQL restarts or is unreachable, every request raises OperationalError (could not
connect, the server closed the connection) or InterfaceError (the connection is already
closed): in the view, and also in middleware after it (the session middleware loads the session
to save it on every request). Those are outages, not bugs: the client should try again shortly,
and the app reconnects by itself once the database is back (CONN_HEALTH_CHECKS checks a
persistent connection before a request reuses it).

Django hands every exception it turns into a 500, wherever it was raised, to `handler500`
(config/urls.py): this one answers 503 for those two, in the API's error format under /api/
and as a plain page elsewhere. No template (a template's context processors might query the
database again), no exception text (database messages can quote values). Any other exception
gets Django's own 500 page. With DEBUG on, Django shows its debug page instead, as for any
error.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from core.request_context import current_request_id

RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is unavailable. Please try again in a few seconds."
PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>Temporarily unavailable</title></head>\n<body><h1>Temporarily unavailable</h1>"
    f"<p>{MESSAGE}</p></body></html>\n"
)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {
                "error": {
                    "code": "service_unavailable",
                    "message": MESSAGE,
                    "request_id": current_request_id(),
                }
            },
            status=503,
        )
    else:
        response = HttpResponse(PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: called while Django handles the exception, so sys.exc_info() names it."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return database_unavailable(request)
    return defaults.server_error(request)
