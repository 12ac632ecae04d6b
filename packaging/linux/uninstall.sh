#!/usr/bin/env bash
# Remove what install.sh put under ~/.local/share and ~/.local/bin. The app folder itself is
# left in place: delete it by hand afterwards if you no longer want PixelMend.
#
# Usage: ./uninstall.sh [--data-dir DIR] [--bin-dir DIR]
set -euo pipefail

APP_ID=io.pixelmend.PixelMend
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
DATA_DIR=${XDG_DATA_HOME:-$HOME/.local/share}
BIN_DIR=$HOME/.local/bin

while [ $# -gt 0 ]; do
    case $1 in
        --data-dir) DATA_DIR=$2; shift 2 ;;
        --bin-dir) BIN_DIR=$2; shift 2 ;;
        -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

remove() {
    if [ -e "$1" ] || [ -L "$1" ]; then
        rm -f "$1"
        echo "removed $1"
    fi
}

remove "$DATA_DIR/applications/$APP_ID.desktop"
remove "$DATA_DIR/mime/packages/$APP_ID.xml"
for icon in "$DATA_DIR"/icons/hicolor/*/apps/"$APP_ID".*; do
    [ -e "$icon" ] && remove "$icon"
done

# Only remove the command if it is our link (to this folder or to a folder that is gone).
link=$BIN_DIR/pixelmend
if [ -L "$link" ]; then
    target=$(readlink "$link")
    if [ "$target" = "$HERE/pixelmend" ] || [ ! -e "$target" ]; then
        remove "$link"
    else
        echo "note: $link points to $target (another copy); left as it is"
    fi
fi

if command -v update-mime-database >/dev/null 2>&1 && [ -d "$DATA_DIR/mime" ]; then
    update-mime-database "$DATA_DIR/mime" >/dev/null 2>&1 || true
fi
if command -v update-desktop-database >/dev/null 2>&1 && [ -d "$DATA_DIR/applications" ]; then
    update-desktop-database "$DATA_DIR/applications" >/dev/null 2>&1 || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$DATA_DIR/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -f -t -q "$DATA_DIR/icons/hicolor" >/dev/null 2>&1 || true
fi
echo "PixelMend's menu entry, file associations and icons are removed."
echo "The app folder $HERE is still there; delete it to remove the app itself."
