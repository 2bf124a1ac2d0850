#!/bin/sh
# Removes what install.sh added: the desktop entry and the icon under
# ${XDG_DATA_HOME:-~/.local/share}. The app's folder and your projects stay; DL Studio's own
# settings and logs are in ~/.dlstudio and ~/.config/DL Studio.
set -eu
data=${XDG_DATA_HOME:-$HOME/.local/share}
rm -f "$data/applications/dlstudio.desktop"
for size in 16 24 32 48 64 128 256 512; do
    rm -f "$data/icons/hicolor/${size}x${size}/apps/dlstudio.png"
done
rm -f "$data/icons/hicolor/scalable/apps/dlstudio.svg"
command -v update-desktop-database >/dev/null 2>&1 \
    && update-desktop-database "$data/applications" >/dev/null 2>&1 || true
command -v gtk-update-icon-cache >/dev/null 2>&1 \
    && gtk-update-icon-cache -q -t "$data/icons/hicolor" >/dev/null 2>&1 || true
echo "DL Studio's menu entry and icon are removed. To remove the app, delete its folder."
