"""Swagger UI 5 for `/docs`, served by the app itself (SPEC §10: no request leaves the host).

The files are Swagger UI's dist build as the pinned `flask-swagger-ui` package ships it; only its
files are used (not its blueprint), under /docs/assets/, which APIFlask's page is pointed at
through its SWAGGER_UI_* settings (config.Config).
"""

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint

ASSETS_URL = "/docs/assets"
DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"

bp = Blueprint("api_docs", __name__, static_folder=str(DIST), static_url_path=ASSETS_URL)
# Files, not API: APIFlask leaves them out of /openapi.json (it reads this flag of every blueprint).
bp.enable_openapi = False
