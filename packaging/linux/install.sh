#!/usr/bin/env bash
# Install PixelMend for the current user (no root): the applications-menu entry, the file
# associations, the OpenRaster MIME type and the icons, all under ~/.local/share, plus a
# `pixelmend` command in ~/.local/bin. The app itself stays in this folder; run this script
# again if you move the folder. ./uninstall.sh undoes it.
#
# Usage: ./install.sh [--data-dir DIR] [--bin-dir DIR] [--no-bin]
set -euo pipefail

APP_ID=io.pixelmend.PixelMend
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
DATA_DIR=${XDG_DATA_HOME:-$HOME/.local/share}
BIN_DIR=$HOME/.local/bin
LINK_BIN=1

while [ $# -gt 0 ]; do
    case $1 in
        --data-dir) DATA_DIR=$2; shift 2 ;;
        --bin-dir) BIN_DIR=$2; shift 2 ;;
        --no-bin) LINK_BIN=0; shift ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

EXE=$HERE/pixelmend
if [ ! -x "$EXE" ]; then
    echo "install.sh: $EXE is missing; run this script from the unpacked PixelMend folder" >&2
    exit 1
fi
case $HERE in
    *$'\n'*) echo "install.sh: the folder path contains a line break; move the folder" >&2; exit 1 ;;
esac

# The Exec key needs the path quoted, with \ " ` $ escaped for the quoting and then every
# backslash doubled for the string value, and % written as %% (Desktop Entry spec, "Exec key").
quoted=$EXE
quoted=${quoted//\\/\\\\}
quoted=${quoted//\"/\\\"}
quoted=${quoted//\`/\\\`}
quoted=${quoted//\$/\\\$}
quoted=${quoted//\\/\\\\}
quoted=${quoted//%/%%}

apps=$DATA_DIR/applications
mkdir -p "$apps" "$DATA_DIR/mime/packages"
desktop=$apps/$APP_ID.desktop
while IFS= read -r line || [ -n "$line" ]; do
    case $line in
        Exec=*) printf 'Exec="%s" %%F\n' "$quoted" ;;
        *) printf '%s\n' "$line" ;;
    esac
done < "$HERE/share/applications/$APP_ID.desktop" > "$desktop.tmp"
mv "$desktop.tmp" "$desktop"
chmod 644 "$desktop"
echo "installed $desktop"

cp "$HERE/share/mime/packages/$APP_ID.xml" "$DATA_DIR/mime/packages/$APP_ID.xml"
echo "installed $DATA_DIR/mime/packages/$APP_ID.xml"

count=0
for source in "$HERE"/share/icons/hicolor/*/apps/"$APP_ID".*; do
    relative=${source#"$HERE/share/"}
    mkdir -p "$(dirname "$DATA_DIR/$relative")"
    cp "$source" "$DATA_DIR/$relative"
    count=$((count + 1))
done
echo "installed $count icons under $DATA_DIR/icons/hicolor"

if [ "$LINK_BIN" = 1 ]; then
    mkdir -p "$BIN_DIR"
    if [ -e "$BIN_DIR/pixelmend" ] && [ ! -L "$BIN_DIR/pixelmend" ]; then
        echo "note: $BIN_DIR/pixelmend exists and is not a link; left as it is"
    else
        ln -sfn "$EXE" "$BIN_DIR/pixelmend"
        echo "linked $BIN_DIR/pixelmend -> $EXE"
    fi
fi

# Refresh the caches where the tools exist; desktops also pick the files up on their own.
if command -v update-mime-database >/dev/null 2>&1; then
    update-mime-database "$DATA_DIR/mime" >/dev/null 2>&1 || true
fi
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$apps" >/dev/null 2>&1 || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$DATA_DIR/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -f -t -q "$DATA_DIR/icons/hicolor" >/dev/null 2>&1 || true
fi
touch "$DATA_DIR/icons/hicolor" 2>/dev/null || true

echo "PixelMend is installed: open it from your applications menu, or run 'pixelmend'."
