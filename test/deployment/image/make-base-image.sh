#!/usr/bin/env bash
# Makes a local stand-in for the Dockerfile's base image (node:24-bookworm-slim) when no container
# registry can be reached: a minimal Debian bookworm root file system (debootstrap, from Debian's
# mirror), the Node 24 binary and npm of the npm registry's `node` package, a `node` user with
# uid 1000 and the host's CA bundle, imported into podman under the base image's name. Done once;
# a later run finds the image and does nothing.
#   usage: make-base-image.sh NODE_BINARY   (a Node 24 executable, e.g. the one running the tests;
#   npm comes from the same folder, or from PATH when that folder has none)
set -euo pipefail
image=docker.io/library/node:24-bookworm-slim
node_bin="${1:?usage: make-base-image.sh NODE_BINARY}"
podman="podman --runtime runc"

if $podman image exists "$image"; then exit 0; fi
for tool in debootstrap podman runc; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (apt-get install -y podman runc debootstrap)" >&2; exit 1; }
done
[[ -x "$node_bin" ]] || { echo "error: no Node binary at $node_bin" >&2; exit 1; }
npm_cli="$(dirname "$node_bin")/npm"
[[ -e "$npm_cli" ]] || npm_cli="$(command -v npm)"
npm_dir="$(dirname "$(readlink -f "$npm_cli")")/.."
[[ -f "$npm_dir/package.json" ]] || { echo "error: cannot find npm's own folder from $npm_cli" >&2; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
echo "base image: debootstrap bookworm into $root" >&2
debootstrap --variant=minbase bookworm "$root" >"$root.debootstrap.log" 2>&1 ||
  { tail -20 "$root.debootstrap.log" >&2; exit 1; }
rm -f "$root.debootstrap.log"
install -m 0755 "$(readlink -f "$node_bin")" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$(readlink -f "$npm_dir")" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
mkdir -p "$root/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
tar -C "$root" -c . | $podman import \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' - "$image" >/dev/null
echo "base image: $image imported" >&2
