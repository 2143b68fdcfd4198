#!/usr/bin/env bash
# Installs the Django original (rheinwerk-verlag's planning-poker 1.0.3, from PyPI) into a virtual
# environment of the project's own, and prints that environment's folder.
#
# The tests of `import-django` create data through the original's own models and manage.py, and
# the browser test of the original's client serves its static files from this install. The pins
# are the newest set known to work together: newer Django breaks django-channels-presence.
# psycopg2-binary lets the import test run the original on PostgreSQL too (a wheel: no libpq or
# compiler needed).
#
#   POKER_DJANGO_VENV   where the environment goes (default ~/.cache/planning-poker/django-venv)
#   PYTHON              the interpreter to build it with (default python3, which must be 3.8–3.11)
set -euo pipefail

venv="${POKER_DJANGO_VENV:-$HOME/.cache/planning-poker/django-venv}"
python="${PYTHON:-python3}"
requirements="planning-poker==1.0.3 Django==3.2.25 channels==4.0.0 django-channels-presence==1.0.0 psycopg2-binary==2.9.10"

# One install at a time: tests that need the original run in parallel, and an install starts by
# removing the environment another one may be filling.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

# The marker records what was installed: a finished install of these pins is reused as it is.
marker="$venv/.planning-poker-pins"
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$requirements" ] && [ -x "$venv/bin/python" ]; then
    echo "$venv"
    exit 0
fi

echo "==> installing the Django original into $venv: $requirements" >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2
# shellcheck disable=SC2086 # the pins are separate words on purpose
"$venv/bin/pip" install --quiet --disable-pip-version-check $requirements >&2
"$venv/bin/python" -c 'import planning_poker, django, channels, channels_presence, psycopg2' >&2
echo "$requirements" > "$marker"
echo "$venv"
