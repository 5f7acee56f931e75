#!/usr/bin/env bash
# Provides a Node.js LTS release from the npm registry, the one source CI can reach besides apt.
#
#   .ci/node-lts.sh MAJOR               prints the directory holding that release's bin/node and
#                                       include/node (downloaded once, then kept in a cache)
#   .ci/node-lts.sh MAJOR CMD [ARG...]  runs CMD with that node first on PATH and node-gyp pointed
#                                       at its headers, so native modules (better-sqlite3) are
#                                       built for the node that will load them
#
# The binaries come from the registry's node-linux-<arch> package: it is what the `node` package
# installs from its preinstall script, but taken directly it needs no install script, and it also
# carries include/node, which node-gyp would otherwise download from nodejs.org.
# NODE_LTS_CACHE overrides the cache directory.
set -euo pipefail

usage() { echo "usage: $0 MAJOR [CMD [ARG...]]  (MAJOR: 22 or 24)" >&2; exit 2; }
[ $# -ge 1 ] || usage
major=$1; shift

# Exact releases, so a CI run tests what the previous one tested; raise them deliberately.
case "$major" in
  22) version=22.23.3 ;;
  24) version=24.21.0 ;;
  *) echo "node-lts: no pinned release for Node.js major '$major' (known: 22, 24)" >&2; exit 2 ;;
esac

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-lts: no npm registry build of Node.js for machine type '$(uname -m)'" >&2; exit 1 ;;
esac

cache=${NODE_LTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gcache-advisor-node}
dir=$cache/node-v$version-linux-$arch

if [ ! -x "$dir/bin/node" ] || [ ! -f "$dir/include/node/node.h" ]; then
  echo "node-lts: fetching node-linux-$arch@$version from the npm registry" >&2
  mkdir -p "$cache"
  # Unpack next to the final place and rename it in, so an interrupted or concurrent run never
  # leaves a half-extracted release where the check above would accept it.
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # npm pack checks the tarball against the integrity the registry publishes for it.
  tarball=$(cd "$tmp" && npm pack --silent "node-linux-$arch@$version")
  mkdir "$tmp/release"
  tar -xzf "$tmp/$tarball" -C "$tmp/release" --strip-components=1
  got=$("$tmp/release/bin/node" --version)
  if [ "$got" != "v$version" ]; then
    echo "node-lts: node-linux-$arch@$version contains Node.js $got" >&2
    exit 1
  fi
  if [ ! -f "$tmp/release/include/node/node.h" ]; then
    echo "node-lts: node-linux-$arch@$version has no include/node headers; node-gyp needs them" >&2
    exit 1
  fi
  rm -rf "$dir"
  mv -T "$tmp/release" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ]
  rm -rf "$tmp"
  trap - EXIT
fi

if [ $# -eq 0 ]; then
  echo "$dir"
  exit 0
fi
exec env PATH="$dir/bin:$PATH" npm_config_nodedir="$dir" "$@"
