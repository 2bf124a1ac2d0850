#!/usr/bin/env bash
# `make bundle`: the one-folder PyInstaller build of DL Studio for this OS, and its archive.
#
#     packaging/build.sh            (PY=.venv/bin/python by default, with the [bundle] extra)
#
# Writes dist/DL Studio/ (the windowed `DL Studio`, the console `dlstudio`, _internal/,
# install.sh, uninstall.sh, README.txt) and dist/dlstudio-<version>-<os>-<arch>.tar.gz, whose
# one top folder is `DL Studio/`. Check the result with packaging/smoke.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
folder="dist/DL Studio"

# The xcb platform plugin is bundled only if the libraries it needs are on this (build)
# machine: PyInstaller leaves out a Qt plugin whose dependencies it cannot resolve, and the
# app then cannot open a window anywhere.
if [ "$(uname -s)" = Linux ]; then
    missing=$("$PY" - <<'PYEOF'
from dlstudio.ui.startup import install_advice, missing_libraries, qt_folder
qt = qt_folder()
libs = missing_libraries([qt / "plugins" / "platforms" / "libqxcb.so"]) if qt else []
print(f"{', '.join(libs)}. {install_advice(libs)}" if libs else "")
PYEOF
)
    if [ -n "$missing" ]; then
        echo "build.sh: this machine lacks libraries that Qt's X11 plugin needs, so the build" >&2
        echo "would have no window: $missing" >&2
        exit 2
    fi
fi

version=$("$PY" -c 'import dlstudio; print(dlstudio.__version__)')
os_name=$(uname -s | tr '[:upper:]' '[:lower:]')
archive="dist/dlstudio-${version}-${os_name}-$(uname -m).tar.gz"

start=$(date +%s)
rm -rf "$folder" "$archive"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/dlstudio.spec
built=$(date +%s)

if [ "$os_name" = linux ] && [ -z "$(find "$folder/_internal" -name 'libqxcb.so' -print -quit)" ]; then
    echo "build.sh: the build has no xcb platform plugin (libqxcb.so): it could not open a window" >&2
    exit 1
fi
install -m 755 packaging/install.sh packaging/uninstall.sh "$folder/"
install -m 644 packaging/dlstudio.desktop "$folder/_internal/dlstudio.desktop"
sed "s/@VERSION@/$version/" packaging/README.txt > "$folder/README.txt"

tar -C dist -czf "$archive" "DL Studio"
done_at=$(date +%s)

echo "Built $folder ($(du -sh "$folder" | cut -f1)) in $((built - start)) s"
echo "Archive $archive ($(du -sh "$archive" | cut -f1)) in $((done_at - built)) s"
