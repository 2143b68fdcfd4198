# A minimal project around the Django original (planning-poker 1.0.3), written by the
# import-django test: the apps its migrations need, and the database named by
# POKER_DJANGO_DATABASE (a SQLite file path, or a postgres:// URL).
import os
from urllib.parse import unquote, urlparse

SECRET_KEY = "import-django-test"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
    # django-channels-presence 1.0.0's own app config names a module `rooms`; the original
    # ships the config to install it with.
    "planning_poker.apps.ChannelsPresenceConfig",
    "planning_poker",
]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

_database = os.environ["POKER_DJANGO_DATABASE"]
if _database.startswith(("postgres://", "postgresql://")):
    _url = urlparse(_database)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _url.path.lstrip("/"),
            "USER": unquote(_url.username or ""),
            "PASSWORD": unquote(_url.password or ""),
            "HOST": _url.hostname or "",
            "PORT": str(_url.port or ""),
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _database}}
