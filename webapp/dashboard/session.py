"""Who is signed in to the dashboard: an API token's hash kept in Flask's signed session cookie."""

from flask import g, request, session
from flask.sessions import SecureCookieSessionInterface

from webapp.models import ApiToken
from webapp.models.api_token import hash_token

_KEY = "token_hash"
MAX_TOKEN_LENGTH = 256


class DashboardSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, `Secure` whenever the request came over HTTPS (as
    ProxyFix reports it behind TRUSTED_PROXY_HOPS proxies) or SESSION_COOKIE_SECURE is on."""

    def get_cookie_secure(self, app):
        """Secure over HTTPS; a plain-HTTP browser would drop a Secure cookie."""
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def sign_in(token):
    """Start a session for the token's user; the user, or None for a wrong token."""
    token = (token or "").strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    user = ApiToken.user_for(token)
    if user is None:
        return None
    # A new session for a new sign-in: nothing (no CSRF token) carries over from before.
    session.clear()
    session[_KEY] = hash_token(token)
    g.dashboard_user = user
    return user


def sign_out():
    """End the session."""
    session.clear()
    g.dashboard_user = None


def signed_in_user():
    """The signed-in user, or None; a revoked token ends the session at its next request."""
    if "dashboard_user" not in g:
        token_hash = session.get(_KEY)
        g.dashboard_user = ApiToken.user_for_hash(token_hash) if isinstance(token_hash, str) else None
        if token_hash is not None and g.dashboard_user is None:
            session.clear()
    return g.dashboard_user
