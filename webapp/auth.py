"""Bearer-token authentication and the permission decorators."""

from functools import wraps

from flask import g, request
from werkzeug.http import HTTP_STATUS_CODES

from webapp.errors import ApiError
from webapp.models import ApiToken

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}

# The OpenAPI security scheme of the bearer token (declared in config.SECURITY_SCHEMES).
SECURITY_SCHEME = "BearerAuth"


def _bearer_token():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        return None
    return token


def authenticate():
    """Set g.current_user from the bearer token, or raise 401."""
    token = _bearer_token()
    user = ApiToken.user_for(token) if token else None
    if user is None:
        raise ApiError(401, headers=_CHALLENGE)
    g.current_user = user
    return user


def login_required(view):
    """Let the view run only for a caller with a valid token."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        authenticate()
        return view(*args, **kwargs)

    _document(wrapper, {401: "Missing, malformed, unknown or revoked bearer token."})
    return wrapper


def admin_required(view):
    """Let the view run only for an admin: 401 without a valid token, 403 for a plain user."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not authenticate().is_admin:
            raise ApiError(403, "This route is for admins.")
        return view(*args, **kwargs)

    _document(
        wrapper,
        {
            401: "Missing, malformed, unknown or revoked bearer token.",
            403: "The caller is not an admin.",
        },
    )
    return wrapper


def _document(wrapper, responses):
    """Mark the route as bearer-protected in the OpenAPI document, with its error answers.

    APIFlask reads a view's `_spec`; `security` makes it list the scheme (and a 401), and the
    statuses in `responses` are documented with the error schema.
    """
    spec = wrapper.__dict__.setdefault("_spec", {})
    spec["security"] = SECURITY_SCHEME
    documented = spec.get("responses") or {}
    if isinstance(documented, list):
        documented = {status: HTTP_STATUS_CODES.get(int(status), "") for status in documented}
    spec["responses"] = {**responses, **documented}


def current_user():
    """The authenticated caller of this request."""
    return g.current_user
