"""Serves the Django original's poker-session page against our server, for the browser test of
the original's own client (tests/e2e/original_client.rs).

The page is the original's: its template `planning_poker/poker_session.html` rendered by Django
itself, its static files and its JavaScript catalog, all from the installed PyPI package
(scripts/django-original.sh). Only the template's context comes from elsewhere: the test reads
it from our REST API and writes it to the pages file, one entry per person, which is read again
on every request (so the server can start before the data exists).

    python original_page.py PAGES_FILE

prints `listening on PORT` once it serves on 127.0.0.1 (a free port), and serves until killed:

    /pages/NAME/            the rendered page for the pages file's entry NAME
    /static/...             the package's static files
    /poker/jsi18n/          the package's JavaScript catalog (the template's {% url %} for it)

A page entry: {"host": "127.0.0.1:PORT" (our server, where the socket goes), "session": {"id",
"name"}, "user": {"id", "username"}, "options": {"point_options", "non_point_options"},
"stories": [{"id", "title", "points"}], "permissions": {"vote", "moderate"}}.
"""

import http.server
import json
import mimetypes
import os
import sys
import types

import django
from django.conf import settings  # noqa: E402

from django.apps import AppConfig  # noqa: E402


class PresenceConfig(AppConfig):
    """django-channels-presence 1.0.0 names its app `rooms` in its own AppConfig, which does not
    import; the original's receivers need its models, so it is installed under its real name."""

    name = "channels_presence"
    default_auto_field = "django.db.models.AutoField"


# The URL configuration (and the app config above) live in a module made here, so that this one
# file is the whole Django project.
urls = types.ModuleType("original_page_urls")
urls.PresenceConfig = PresenceConfig
sys.modules[urls.__name__] = urls

settings.configure(
    DEBUG=False,
    SECRET_KEY="only-for-rendering-a-template",
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "channels",
        "original_page_urls.PresenceConfig",
        "planning_poker",
    ],
    DATABASES={},
    ROOT_URLCONF=urls.__name__,
    STATIC_URL="/static/",
    USE_I18N=True,
    LANGUAGE_CODE="en",
    LOGOUT_URL="/logout/",
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.template.context_processors.csrf",
                ]
            },
        }
    ],
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402  (needs the settings above)
from django.template.loader import render_to_string  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.i18n import JavaScriptCatalog  # noqa: E402

import planning_poker  # noqa: E402
from planning_poker.models import PokerSession  # noqa: E402

urls.urlpatterns = [path("poker/", include("planning_poker.urls"))]

STATIC_ROOT = os.path.join(os.path.dirname(planning_poker.__file__), "static")
CATALOG_PATH = "/poker/jsi18n/"
PAGES_FILE = sys.argv[1]


def render_page(entry):
    """The original's poker_session.html, as its PokerSessionView renders it for this user."""
    request = RequestFactory().get("/", HTTP_HOST=entry["host"])
    user = User(id=entry["user"]["id"], username=entry["user"]["username"])
    request.user = user
    session = PokerSession(id=entry["session"]["id"], name=entry["session"]["name"])
    context = {
        "pokersession": session,
        "object": session,
        "user": user,
        "logout_url": "/logout/",
        "options": entry["options"],
        "stories": entry["stories"],
        "permissions": entry["permissions"],
    }
    return render_to_string("planning_poker/poker_session.html", context, request=request)


def catalog():
    request = RequestFactory().get(CATALOG_PATH)
    response = JavaScriptCatalog.as_view(packages=["planning_poker"])(request)
    return response.content, response["Content-Type"]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        target = self.path.split("?", 1)[0]
        try:
            if target.startswith("/pages/"):
                name = target[len("/pages/"):].strip("/")
                with open(PAGES_FILE, encoding="utf-8") as pages:
                    entry = json.load(pages).get(name)
                if entry is None:
                    return self.answer(404, b"no such page", "text/plain")
                body = render_page(entry).encode("utf-8")
                return self.answer(200, body, "text/html; charset=utf-8")
            if target == CATALOG_PATH:
                return self.answer(200, *catalog())
            if target.startswith("/static/"):
                relative = os.path.normpath(target[len("/static/"):])
                file = os.path.join(STATIC_ROOT, relative)
                if relative.startswith("..") or not os.path.isfile(file):
                    return self.answer(404, b"no such file", "text/plain")
                kind = mimetypes.guess_type(file)[0] or "application/octet-stream"
                with open(file, "rb") as content:
                    return self.answer(200, content.read(), kind)
            return self.answer(404, b"not found", "text/plain")
        except Exception as error:  # the test reads the reason in the browser's log
            return self.answer(500, repr(error).encode("utf-8"), "text/plain")

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("original_page: " + (format % args) + "\n")


mimetypes.add_type("text/javascript", ".js")
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()
