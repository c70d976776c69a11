"""The Flask application factory."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from pybirch.database import DatabaseService
from pybirch.station import Station
from pybirch.web import agents  # noqa: F401  (registers the agents' Socket.IO namespace)
from pybirch.web.auth.passwords import HASH_GATE_KEY, HashGate
from pybirch.web.auth.sessions import load_user
from pybirch.web.auth.throttle import THROTTLE_KEY, LoginThrottle
from pybirch.web.config import WebConfig
from pybirch.web.extensions import csrf, login_manager
from pybirch.web.headers import HttpsAwareSessionInterface, add_security_headers
from pybirch.web.live import init_live
from pybirch.web.services import EXTENSION_KEY
from pybirch.web.stations import STATION_KEY


def create_app(
    db: DatabaseService | None = None,
    config: WebConfig | None = None,
    **flask_config: Any,
) -> Flask:
    """A PyBirch web app on ``db`` (default: ``DATABASE_URL`` or the embedded database)."""
    app = Flask(__name__)
    web = config or WebConfig.from_environment()
    if web.behind_proxy:
        # One proxy hop: its X-Forwarded-Proto/-For/-Host become the request's scheme,
        # address and host (so HTTPS is seen and the throttle sees browsers, not the proxy).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.session_interface = HttpsAwareSessionInterface()
    app.config.update(
        SECRET_KEY=web.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=web.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=web.session_lifetime_hours),
        # No remember-me cookie is given; bound it anyway, should one ever be.
        REMEMBER_COOKIE_DURATION=timedelta(hours=web.session_lifetime_hours),
        WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session
        MAX_CONTENT_LENGTH=web.max_content_length,
    )
    if web.max_image_pixels is not None:
        app.config["MAX_IMAGE_PIXELS"] = web.max_image_pixels
    app.config.update(flask_config)
    app.extensions[EXTENSION_KEY] = db or DatabaseService()
    app.extensions[THROTTLE_KEY] = LoginThrottle(
        web.login_attempts, web.login_window, web.login_address_attempts
    )
    app.extensions[HASH_GATE_KEY] = HashGate(
        web.hash_concurrency, web.hash_waiting, web.hash_wait_seconds
    )
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    csrf.init_app(app)
    _register_blueprints(app)
    _register_error_pages(app)
    app.after_request(add_security_headers)
    # Stored drivers run on lab computers only: the web server never executes stored code.
    app.extensions[STATION_KEY] = Station(
        app.extensions[EXTENSION_KEY], bus=init_live(app), runs_stored_code=False
    )
    return app


def _register_error_pages(app: Flask) -> None:
    """Finished pages for 403, 404 (a :class:`NotFoundError` too) and 413; JSON under ``/api/``."""
    from flask import jsonify, render_template, request
    from werkzeug.exceptions import HTTPException, NotFound

    from pybirch.database.errors import NotFoundError

    def page_or_json(error: HTTPException, template: str) -> Any:
        if request.path.startswith("/api/"):
            return jsonify(error={"code": error.code, "message": error.description}), error.code
        return render_template(template), error.code

    @app.errorhandler(404)
    def _not_found(error: HTTPException) -> Any:
        return page_or_json(error, "not_found.html")

    @app.errorhandler(403)
    def _forbidden(error: HTTPException) -> Any:
        return page_or_json(error, "forbidden.html")

    @app.errorhandler(413)
    def _too_large(error: HTTPException) -> Any:
        return page_or_json(error, "too_large.html")

    @app.errorhandler(NotFoundError)
    def _missing(error: NotFoundError) -> Any:
        # A lookup that found nothing, on any page or route, is a 404, never a 500.
        return page_or_json(NotFound(str(error)), "not_found.html")


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    """JSON 401 for the API; the login page (back to where the user was) for pages."""
    from flask import jsonify, redirect, request, url_for

    if request.blueprint == "api":
        message = "log in or send 'Authorization: Bearer <token>'"
        return jsonify(error={"code": 401, "message": message}), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _register_blueprints(app: Flask) -> None:
    from pybirch.web.agent_gateway import blueprint as agent_gateway
    from pybirch.web.api import blueprint as api
    from pybirch.web.api.routes import user_from_request
    from pybirch.web.auth.access import may_write
    from pybirch.web.auth.first_password import require_password_change
    from pybirch.web.blueprints.account import blueprint as account
    from pybirch.web.blueprints.admin import blueprint as admin
    from pybirch.web.blueprints.approvals import blueprint as approvals
    from pybirch.web.blueprints.auth import blueprint as auth
    from pybirch.web.blueprints.builder import blueprint as builder
    from pybirch.web.blueprints.computer_instruments import blueprint as computer_instruments
    from pybirch.web.blueprints.computers import blueprint as computers
    from pybirch.web.blueprints.dashboard import blueprint as dashboard
    from pybirch.web.blueprints.definition_edit import blueprint as definition_edit
    from pybirch.web.blueprints.definitions import blueprint as definitions
    from pybirch.web.blueprints.equipment_care import blueprint as equipment_care
    from pybirch.web.blueprints.instrument_page import blueprint as instrument_page
    from pybirch.web.blueprints.instruments import blueprint as instruments
    from pybirch.web.blueprints.labs import blueprint as labs
    from pybirch.web.blueprints.queues import blueprint as queues
    from pybirch.web.blueprints.samples import blueprint as samples
    from pybirch.web.blueprints.scans import blueprint as scans
    from pybirch.web.filters import register_filters

    app.register_blueprint(auth)
    app.register_blueprint(api)
    login_manager.request_loader(user_from_request)
    app.register_blueprint(dashboard)
    app.register_blueprint(scans)
    app.register_blueprint(queues)
    app.register_blueprint(samples)
    app.register_blueprint(instruments)
    app.register_blueprint(instrument_page)
    app.register_blueprint(computers)
    app.register_blueprint(computer_instruments)
    app.register_blueprint(admin)
    app.register_blueprint(account)
    app.register_blueprint(labs)
    app.register_blueprint(builder)
    app.register_blueprint(definition_edit)
    app.register_blueprint(definitions)
    app.register_blueprint(approvals)
    app.register_blueprint(equipment_care)
    app.register_blueprint(agent_gateway)
    register_filters(app)
    app.before_request(require_password_change)
    app.add_template_global(may_write)
