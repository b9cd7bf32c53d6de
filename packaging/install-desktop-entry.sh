#!/usr/bin/env sh
# Link the installed photo-grouper command into ~/.local/bin and add its desktop entry for this user.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${PHOTO_GROUPER_VENV:-$HOME/.local/share/photo-grouper/venv}
[ -x "$venv/bin/photo-grouper" ] || { echo "photo-grouper is not installed in $venv (see packaging/README.md)" >&2; exit 1; }
mkdir -p "$HOME/.local/bin" "$HOME/.local/share/applications"
ln -sf "$venv/bin/photo-grouper" "$HOME/.local/bin/photo-grouper"
cp "$here/resources/photo-grouper.desktop" "$HOME/.local/share/applications/photo-grouper.desktop"
echo "installed: $HOME/.local/bin/photo-grouper and its desktop entry"
