# Sourced by demo.sh and test.sh: make .venv hold exactly what uv.lock says, with uv itself in it.
# First run: python3 -m venv, pip installs the locked uv, uv syncs. Later runs: nothing is
# installed unless uv.lock or a pyproject.toml changed since the last sync (a stamp file records
# their hashes), so a start with nothing changed costs a few milliseconds.
# Run from the repository root.
sync_venv() {
    local python=${PYTHON:-python3} stamp=.venv/.synced wanted uv_version
    export UV_PYTHON_DOWNLOADS=never  # use the machine's Python; never download one
    export UV_PROJECT_ENVIRONMENT=.venv
    wanted=$(cat uv.lock pyproject.toml client/pyproject.toml mock_server/pyproject.toml | sha256sum)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -x .venv/bin/uv ]; then
        return 0
    fi
    if [ ! -x .venv/bin/uv ]; then
        uv_version=$(sed -n '/^name = "uv"$/{n;s/^version = "\(.*\)"$/\1/p;q}' uv.lock)
        [ -x .venv/bin/python ] || "$python" -m venv .venv
        .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==${uv_version}"
    fi
    .venv/bin/uv sync --locked --quiet --python .venv/bin/python
    echo "$wanted" > "$stamp"
}
