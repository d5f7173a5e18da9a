"""Who is signed in to the dashboard: an API token's hash kept in Flask's signed session cookie.

The cookie also keeps the key of a dashboard session (a row of `dashboard_sessions`, which
holds only its hash), made at sign-in and deleted at sign-out: a copy of the cookie taken
before signing out signs nobody in afterwards.
"""

from flask import g, request, session
from flask.sessions import SecureCookieSessionInterface

from webapp.extensions import db
from webapp.models import ApiToken, DashboardSession
from webapp.models.api_token import hash_token

_KEY = "token_hash"
_SESSION_KEY = "session_key"
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
    # A new session for a new sign-in: nothing (no CSRF token) carries over from before, and
    # the session it replaces ends.
    _end_session()
    session.clear()
    session[_KEY] = hash_token(token)
    session[_SESSION_KEY] = DashboardSession.start(user)
    db.session.commit()
    g.dashboard_user = user
    return user


def sign_out():
    """End the session, for good: its row goes, so no copy of the cookie signs in again."""
    _end_session()
    db.session.commit()
    session.clear()
    g.dashboard_user = None


def _end_session():
    key = session.get(_SESSION_KEY)
    if isinstance(key, str):
        DashboardSession.end(key)


def signed_in_user():
    """The signed-in user, or None; a revoked token ends the session at its next request."""
    if "dashboard_user" not in g:
        token_hash, key = session.get(_KEY), session.get(_SESSION_KEY)
        user = None
        if isinstance(token_hash, str) and isinstance(key, str):
            user = ApiToken.user_for_hash(token_hash)
            if user is not None and DashboardSession.owner_of(key) != user.id:
                user = None
        g.dashboard_user = user
        if (token_hash is not None or key is not None) and user is None:
            session.clear()
    return g.dashboard_user
