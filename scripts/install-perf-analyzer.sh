#!/usr/bin/env bash
# Triton's load tool perf_analyzer, from the package registries only, into build/tools/.
#
# Its PyPI wheels (perf-analyzer 2.58-2.60) are built for glibc 2.38 and GLIBCXX_3.4.32;
# Debian 12 has glibc 2.36, so `pip install perf-analyzer` silently takes the 0.1.0
# placeholder. Instead: the 2.60.0 wheel for manylinux_2_38 (its binary only), run by
# Debian 13's dynamic loader with Debian 13's libc, libstdc++, libgcc, libssl and zlib,
# fetched with `apt-get download` under a private apt state and unpacked with `dpkg -x`
# beside it -- never installed over the host's libraries.
#
#   scripts/install-perf-analyzer.sh [DEST]   -> DEST/bin/perf_analyzer (a wrapper)
set -euo pipefail
VERSION=2.60.0
DEST=${1:-build/tools/perf_analyzer}
WRAPPER="$DEST/bin/perf_analyzer"
if [ -x "$WRAPPER" ] && "$WRAPPER" --version >/dev/null 2>&1; then
  exit 0
fi
rm -rf "$DEST" && mkdir -p "$DEST"/{apt/lists/partial,apt/cache/archives/partial,debs,root,bin,wheel}
DEST=$(cd "$DEST" && pwd)
echo "perf_analyzer: fetching the $VERSION wheel and Debian 13's run-time libraries into $DEST"
python3 -m pip download --quiet --no-deps --only-binary=:all: --disable-pip-version-check \
  --platform manylinux_2_38_x86_64 --python-version 3.11 "perf-analyzer==$VERSION" -d "$DEST/wheel"
python3 -m zipfile -e "$DEST"/wheel/perf_analyzer-*.whl "$DEST/wheel"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-trixie-stable.gpg] http://deb.debian.org/debian trixie main" \
  > "$DEST/apt/sources.list"
touch "$DEST/apt/status"
apt_opts=(-o "Dir::State=$DEST/apt" -o "Dir::State::Lists=$DEST/apt/lists"
  -o "Dir::State::status=$DEST/apt/status" -o "Dir::Cache=$DEST/apt/cache"
  -o "Dir::Etc::SourceList=$DEST/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "APT::Sandbox::User=root")
[ -f /usr/share/keyrings/debian-archive-trixie-stable.gpg ] || {
  echo "perf_analyzer: Debian 13's archive key is missing (package debian-archive-keyring)" >&2; exit 1; }
apt-get "${apt_opts[@]}" -qq update
(cd "$DEST/debs" && apt-get "${apt_opts[@]}" -qq download libc6 libstdc++6 libgcc-s1 libssl3t64 zlib1g)
for deb in "$DEST"/debs/*.deb; do dpkg -x "$deb" "$DEST/root"; done
install -m 0755 "$DEST/wheel/perf_analyzer/bin/perf_analyzer" "$DEST/bin/perf_analyzer.bin"
cat > "$WRAPPER" <<WRAP
#!/bin/sh
# perf_analyzer $VERSION on Debian 13's loader and libraries (scripts/install-perf-analyzer.sh)
LIBS="$DEST/root/usr/lib/x86_64-linux-gnu"
exec "\$LIBS/ld-linux-x86-64.so.2" --library-path "\$LIBS" "$DEST/bin/perf_analyzer.bin" "\$@"
WRAP
chmod 0755 "$WRAPPER"
"$WRAPPER" --version
rm -rf "$DEST/apt" "$DEST/wheel"
