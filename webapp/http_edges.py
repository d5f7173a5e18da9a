"""HTTP edges a fuzz run found (SPEC 11): doubled slashes, OPTIONS, repeated query parameters.

- A doubled slash in a path is the same route: `/workouts//1` is `/workouts/1` (Werkzeug would
  answer an HTML 308 to the merged path instead).
- OPTIONS answers 204 with `Allow` and no body (Flask's default is an empty text/html 200).
- A query parameter given twice (`?limit=1&limit=999`) is a 400 naming it, not the first one
  taken silently; checked where the query is parsed, so authentication still comes first.
"""

import re

from apiflask.schema_adapters.marshmallow import parser
from flask import request
from marshmallow import ValidationError, fields

_SLASHES = re.compile(r"/{2,}")


class MergeSlashes:
    """WSGI middleware: runs of slashes in the path become one before routing."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if "//" in path:
            environ["PATH_INFO"] = _SLASHES.sub("/", path)
        return self.wsgi_app(environ, start_response)


def _options_without_body(response):
    """An automatic OPTIONS answer: 204 with its Allow header, no text/html body."""
    if request.method == "OPTIONS" and response.status_code == 200 and not response.data:
        response.status_code = 204
        response.headers.pop("Content-Type", None)
        response.headers.pop("Content-Length", None)
    return response


def load_query_once(req, schema):
    """webargs' query loader, refusing a parameter the schema takes once but that came twice."""
    repeated = {
        name: "Given more than once; give it once."
        for name in req.args
        if len(req.args.getlist(name)) > 1 and not _takes_a_list(schema, name)
    }
    if repeated:
        raise ValidationError(repeated)
    return parser.load_querystring(req, schema)


def _takes_a_list(schema, name):
    field = schema.fields.get(name) or next(
        (f for f in schema.fields.values() if f.data_key == name), None
    )
    return isinstance(field, (fields.List, fields.Tuple))


def register(app):
    """Install the edges' handling on the app."""
    app.wsgi_app = MergeSlashes(app.wsgi_app)
    app.after_request(_options_without_body)
    parser.location_loader("query")(load_query_once)
    parser.location_loader("querystring")(load_query_once)
