# Sourced by the benchmark scripts: a virtualenv (target/bench-venv) with matplotlib for the
# plots, made on first use. Sets $PY to its python.
venv=target/bench-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  echo "making $venv with matplotlib for the benchmark plots" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q matplotlib >&2
fi
PY="$venv/bin/python"
