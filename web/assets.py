"""Versioned URLs for the static files, cached for a year by browsers.

Every `url_for("static", filename=...)` (the templates use nothing else) gets
`?v=<hash>`, the first 12 hex digits of the SHA-256 of the file's content, through
a URL-defaults hook: a changed file gets a new URL, so a response for a versioned
URL can be kept `public, max-age=31536000, immutable`. Only a request whose `v` is
the file's current hash gets that header; the bare URL (or an old hash) keeps
Flask's `no-cache`, revalidated by ETag.

Hashes are kept per process and recomputed when a file's size or mtime changes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.security import safe_join

IMMUTABLE = "public, max-age=31536000, immutable"
VERSION_PARAM = "v"


class StaticVersions:
    def __init__(self, folder: str):
        self.folder = folder
        self._known: dict[str, tuple[int, int, str]] = {}

    def version(self, filename: str) -> str | None:
        """The content hash of a static file, or None if there is no such file."""
        path = safe_join(self.folder, filename)
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        known = self._known.get(filename)
        if known and known[0] == stat.st_mtime_ns and known[1] == stat.st_size:
            return known[2]
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
        self._known[filename] = (stat.st_mtime_ns, stat.st_size, digest)
        return digest


def init_app(app: Flask) -> None:
    if not app.static_folder:
        return
    versions = StaticVersions(app.static_folder)
    app.extensions["discuss_static_versions"] = versions

    @app.url_defaults
    def versioned_static_urls(endpoint: str, values: dict) -> None:
        if endpoint == "static" and VERSION_PARAM not in values and "filename" in values:
            version = versions.version(values["filename"])
            if version:
                values[VERSION_PARAM] = version

    @app.after_request
    def cache_versioned_static_files(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        asked = request.args.get(VERSION_PARAM)
        filename = (request.view_args or {}).get("filename")
        if asked and filename and asked == versions.version(filename):
            response.headers["Cache-Control"] = IMMUTABLE
        return response
