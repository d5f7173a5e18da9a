"""The Flask application factory."""

import logging
from pathlib import Path

from apiflask import APIFlask
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import (cli_errors, commands, converters, errors, http_edges, json_logging, metrics,
                    request_ids)
from webapp.extensions import csrf, db, migrate
from webapp.models.llm_call_log import include_in_schema_compare
from webapp.secret_key import ensure_secret_key

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(config_object="config.Config"):
    """Build the app: config, extensions, blueprints, error handlers, commands, Celery."""
    app = APIFlask(__name__, title="LLM call logging service", version="1.0.0", static_folder=None)
    app.config.from_object(config_object)
    ensure_secret_key(app)
    # Keys keep the order the service gives them (most used endpoint first, ...).
    app.json.sort_keys = False
    converters.register(app)
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops > 0:
        # x_proto too: the dashboard's cookie is Secure when the client spoke HTTPS to the proxy.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    request_ids.register(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    http_edges.register(app)
    register_commands(app)
    configure_logging(app)
    return app


def register_extensions(app):
    """Bind the extension singletons, Celery included, to this app."""
    from webapp.celery_app import celery_init_app

    db.init_app(app)
    csrf.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=False,
                     include_name=include_in_schema_compare)
    celery_init_app(app)
    metrics.register(app)


def register_blueprints(app):
    """Mount the feature blueprints, the health routes, the /docs assets and the dashboard."""
    from webapp import api_docs, dashboard
    from webapp.api import (
        account, admin_users, alerts, health, jobs, log_exports, logs, operations, workouts,
    )
    from webapp.api import metrics as metrics_api

    for module in (account, operations, jobs, workouts, logs, log_exports, metrics_api,
                   admin_users, alerts, health, api_docs):
        app.register_blueprint(module.bp)
    dashboard.register(app)


def register_errorhandlers(app):
    """Answer every error in the JSON shape of SPEC section 9."""
    errors.register(app)


def register_commands(app):
    """Add the `flask users ...`, `flask logs ...` and `flask alerts ...` commands."""
    app.cli.add_command(commands.users)
    app.cli.add_command(commands.logs)
    app.cli.add_command(commands.alerts)
    cli_errors.install(app)


def configure_logging(app):
    """Log JSON lines to stderr at INFO unless the host process configured logging already
    (the Celery worker installs the same through its setup_logging signal; gunicorn.conf.py
    sets up the same formatter, which gets the request ids and secrets here)."""
    if not logging.getLogger().handlers:
        json_logging.install(app.config)
    else:
        json_logging.adopt(app.config)
