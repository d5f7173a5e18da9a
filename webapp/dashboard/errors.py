"""The dashboard's errors are HTML pages (SPEC §9 exempts them); the API's stay JSON."""

from flask import render_template
from flask_wtf.csrf import CSRFError

from webapp.dashboard import bp

_TITLES = {
    400: "Bad request",
    403: "Not for you",
    404: "Not found",
    405: "Method not allowed",
}
_TEXTS = {
    403: "This page is for admins.",
    404: "There is nothing here, or it is not yours.",
    405: "This page does not take that method.",
}


def error_page(status, text=None):
    """An HTML error page with the status code."""
    return render_template(
        "dashboard/error.html", status=status, title=_TITLES.get(status, "Error"),
        text=text or _TEXTS.get(status, "The request failed."),
    ), status


@bp.errorhandler(CSRFError)
def csrf_failed(error):
    """A form without a valid CSRF token: refused, and said so."""
    return error_page(400, "The form was out of date or not sent from this site. "
                           "Reload the page and try again.")


for _status in (400, 403, 404, 405):
    bp.register_error_handler(_status, lambda error, status=_status: error_page(
        status, getattr(error, "description", None) if status == 400 else None))
