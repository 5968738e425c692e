#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Builds (and optionally pushes) the one Muxly image every service runs from.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<HELP
usage: deploy/scripts/docker-build.sh [--image NAME:TAG] [--platforms LIST] [--push] [--podman] [--dry-run]

Builds the repository's Dockerfile. With Docker Buildx it builds for every platform in --platforms
(multi-arch; a multi-arch image must be pushed, so without --push only the host's platform is
built and loaded); with plain Docker or podman, the host's platform.

options:
  --image NAME:TAG   image name and tag (default muxly:<version in package.json>)
  --platforms LIST   Buildx platforms (default linux/amd64,linux/arm64)
  --push             push the image after building
  --podman           build with podman instead of Docker (host network, runc; no engine needed)
  --dry-run          print the commands, build nothing
  -h, --help         this text
HELP
}

version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$MUXLY_REPO/package.json" | head -1)"
image="muxly:${version:-latest}" platforms="linux/amd64,linux/arm64" push=0 engine=docker
while (($#)); do
  case "$1" in
    --image) image="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --platforms) platforms="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --push) push=1; shift ;;
    --podman) engine=podman; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$image" == *:* ]] || die "--image must include a tag (name:tag), not '$image'"

cd "$MUXLY_REPO" || exit 1
if [[ "$engine" == podman ]]; then
  need_tool podman "install it with: apt-get install -y podman runc"
  # runc: crun cannot apply the rlimits and cgroups of some hosts; the host network reaches the
  # npm registry the way the host does.
  run podman --runtime runc build --network host --pull=missing -t "$image" .
  [[ "$push" == 0 ]] || run podman push "$image"
elif docker buildx version >/dev/null 2>&1; then
  if [[ "$push" == 1 ]]; then
    run docker buildx build --platform "$platforms" -t "$image" --push .
  else
    note "without --push Buildx builds only the host's platform (a multi-arch image cannot be loaded locally)"
    run docker buildx build -t "$image" --load .
  fi
else
  need_tool docker "install Docker (with the Buildx plugin for multi-arch images), or use --podman"
  run docker build -t "$image" .
  [[ "$push" == 0 ]] || run docker push "$image"
fi
[[ "$DRY_RUN" == 1 ]] || note "built $image"
