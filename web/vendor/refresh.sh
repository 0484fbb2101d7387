#!/usr/bin/env bash
# Re-fetches the pinned third-party files of web/vendor/ from the npm registry, with npm's
# own client, as listed in packages.txt (NAME VERSION FILE... a line). To upgrade a package,
# change its version there, run this script, and check the diff.
#
#   web/vendor/refresh.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

while read -r name version files; do
    # skip blank lines and comments
    [[ -z "${name}" || "${name}" == \#* ]] && continue
    if [[ -z "${version:-}" || -z "${files:-}" ]]; then
        echo "packages.txt: '${name}' needs a version and at least one file" >&2
        exit 1
    fi
    dest="${here}/${name%-dist}"
    echo "${name}@${version} -> ${dest#"${here}/"}/"
    (cd "$work" && npm pack --silent "${name}@${version}" >/dev/null)
    tarball="$(ls "$work"/*.tgz)"
    mkdir -p "$work/unpacked"
    tar -xzf "$tarball" -C "$work/unpacked"
    mkdir -p "$dest"
    for f in $files; do
        if [[ ! -f "$work/unpacked/package/$f" ]]; then
            echo "${name}@${version} has no file ${f}" >&2
            exit 1
        fi
        mkdir -p "$(dirname "$dest/$f")"
        cp "$work/unpacked/package/$f" "$dest/$f"
    done
    echo "${version}" >"$dest/VERSION"
    rm -rf "$work/unpacked" "$tarball"
done <"${here}/packages.txt"
