"""The dashboard: server-rendered pages for people, signed in with an API token (SPEC §16).

Its own templates and static files; HTML errors on its pages, the JSON API untouched.
"""

from flask import Blueprint

bp = Blueprint(
    "dashboard", __name__, url_prefix="/dashboard",
    template_folder="templates", static_folder="static", static_url_path="/static",
)

# `GET /` sends people to the dashboard; a blueprint of its own so it has no url_prefix.
root_bp = Blueprint("root", __name__)
# Pages, not API: APIFlask leaves them out of /openapi.json (it reads this flag of every blueprint).
bp.enable_openapi = root_bp.enable_openapi = False

from webapp.dashboard import errors, views  # noqa: E402,F401  (registers the routes)


def register(app):
    """Mount the dashboard and its session cookie on the app (CSRF: webapp.extensions.csrf,
    checked by the dashboard's own before_request)."""
    from webapp.dashboard.session import DashboardSessionInterface

    app.session_interface = DashboardSessionInterface()
    app.register_blueprint(bp)
    app.register_blueprint(root_bp)
