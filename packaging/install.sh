#!/bin/sh
# Adds DL Studio to this user's applications menu: a desktop entry and the icon under
# ${XDG_DATA_HOME:-~/.local/share}. No root needed. The app stays in this folder: after moving
# the folder, run this again. ./uninstall.sh removes what this adds.
set -eu
here=$(cd "$(dirname "$0")" && pwd -P)
exe="$here/DL Studio"
icons="$here/_internal/dlstudio/resources/icons"
if [ ! -x "$exe" ] || [ ! -f "$here/_internal/dlstudio.desktop" ]; then
    echo "install.sh: run me from the unpacked DL Studio folder ($exe is missing)." >&2
    exit 1
fi
data=${XDG_DATA_HOME:-$HOME/.local/share}
entry="$data/applications/dlstudio.desktop"

for size in 16 24 32 48 64 128 256 512; do
    install -D -m 644 "$icons/dlstudio-$size.png" "$data/icons/hicolor/${size}x${size}/apps/dlstudio.png"
done
install -D -m 644 "$icons/dlstudio.svg" "$data/icons/hicolor/scalable/apps/dlstudio.svg"

# Desktop Entry quoting: inside "...", escape " ` $ \ with a backslash; then, as for every
# string value, each backslash is doubled; a literal % is written %%.
quoted=$(printf '%s' "$exe" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g' -e 's/%/%%/g')
plain=$(printf '%s' "$exe" | sed -e 's/\\/\\\\/g')
mkdir -p "$data/applications"
# The lines go to awk through the environment: sed's replacement and awk -v would both
# take their backslashes as escapes.
EXEC_LINE="Exec=\"$quoted\"" TRY_LINE="TryExec=$plain" awk '
    /^Exec=/    { print ENVIRON["EXEC_LINE"]; next }
    /^TryExec=/ { print ENVIRON["TRY_LINE"]; next }
    { print }' "$here/_internal/dlstudio.desktop" > "$entry.tmp"
mv "$entry.tmp" "$entry"
chmod 644 "$entry"

# Menus and icon caches that exist refresh themselves sooner with these (both optional).
command -v update-desktop-database >/dev/null 2>&1 \
    && update-desktop-database "$data/applications" >/dev/null 2>&1 || true
command -v gtk-update-icon-cache >/dev/null 2>&1 \
    && gtk-update-icon-cache -q -t "$data/icons/hicolor" >/dev/null 2>&1 || true

echo "DL Studio is in your applications menu now (entry: $entry)."
echo "It starts $exe; after moving this folder, run install.sh again."
