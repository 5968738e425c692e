# Sourced by deploy-aws.sh and deploy-gcp.sh: renders an overlay with the release's image, creates
# or updates the muxly-secrets Secret from the environment, applies, and waits for the rollout.
# shellcheck shell=bash

SECRET_KEYS_FILE="$MUXLY_REPO/deploy/kubernetes/secrets.example.env"
SERVICES=(muxly-ingest muxly-transformer muxly-router muxly-control-plane schema-registry)

# The Secret's keys, as listed in secrets.example.env.
secret_keys() {
  grep -E '^[A-Z0-9_]+=' "$SECRET_KEYS_FILE" | cut -d= -f1
}

# Every key must be set in the environment; all missing ones are named at once.
check_secret_environment() {
  local missing=() key
  while read -r key; do
    [[ -n "${!key:-}" ]] || missing+=("$key")
  done < <(secret_keys)
  ((${#missing[@]} == 0)) ||
    die "these variables must be set for the muxly-secrets Secret (see deploy/kubernetes/secrets.example.env): ${missing[*]}"
}

# kubectl kustomize of the overlay with the image replaced, into $1.
render_overlay() { # out overlay image
  local out="$1" overlay="$2" image="$3" work
  work="$(mktemp -d)"
  # A kustomization of our own on top of the overlay sets the image without editing the repo.
  cat >"$work/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$work" "$MUXLY_REPO/deploy/kubernetes/overlays/$overlay")
images:
  - name: ghcr.io/muxly/muxly
    newName: ${image%:*}
    newTag: ${image##*:}
YAML
  kubectl kustomize --load-restrictor=LoadRestrictionsNone "$work" >"$out" ||
    die "kubectl kustomize could not render the $overlay overlay"
  rm -rf "$work"
}

apply_release() { # overlay image namespace
  local overlay="$1" image="$2" namespace="$3" rendered args=() key
  [[ "$image" == *:* ]] || die "--image must name a tag (registry/name:tag), not '$image'"
  rendered="$(mktemp)"
  if command -v kubectl >/dev/null 2>&1; then
    render_overlay "$rendered" "$overlay" "$image"
    note "rendered the $overlay overlay with $image ($(grep -c '^kind:' "$rendered") objects)"
  fi
  while read -r key; do args+=("--from-literal=$key=${!key}"); done < <(secret_keys)

  run kubectl apply -f "$MUXLY_REPO/deploy/kubernetes/overlays/$overlay/namespace.yaml"
  # The Secret is applied from its own rendering, never written to a file or shown.
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '+ kubectl -n %q create secret generic muxly-secrets %s --dry-run=client -o yaml | kubectl apply -f -\n' \
      "$namespace" "$(secret_keys | sed 's/.*/--from-literal=&=***/' | tr '\n' ' ')"
  else
    kubectl -n "$namespace" create secret generic muxly-secrets "${args[@]}" --dry-run=client -o yaml |
      kubectl apply -f - >/dev/null
    note "secret muxly-secrets created or updated in namespace $namespace"
  fi
  # A Job's pod template cannot change: the previous release's migration Job goes first.
  run kubectl -n "$namespace" delete job muxly-migrate --ignore-not-found
  run kubectl apply -f "$rendered"
  run kubectl -n "$namespace" wait --for=condition=complete job/muxly-migrate --timeout=600s
  local service
  for service in "${SERVICES[@]}"; do
    run kubectl -n "$namespace" rollout status "deployment/$service" --timeout=600s
  done
  rm -f "$rendered"
  [[ "$DRY_RUN" == 0 ]] || return 0
  cat <<INFO

Muxly is deployed in namespace $namespace. Inside the cluster:
  ingest API      http://muxly-ingest.$namespace.svc:8080/v1/metrics
  control plane   http://muxly-control-plane.$namespace.svc:8081/api/v1
From your machine:
  kubectl -n $namespace port-forward svc/muxly-control-plane 8081:8081
  kubectl -n $namespace port-forward svc/muxly-ingest 8080:8080
Expose them with an Ingress or a LoadBalancer of your platform (docs/deployment.md).
INFO
}

# The current kubectl context must be the one asked for: never apply to the wrong cluster.
check_context() { # expected-substring
  local current
  current="$(kubectl config current-context 2>/dev/null || true)"
  if [[ "$DRY_RUN" == 1 ]]; then
    note "would check that the kubectl context ('${current:-none}') is the cluster's ($1)"
    return 0
  fi
  [[ -n "$current" ]] || die "kubectl has no current context"
  [[ "$current" == *"$1"* ]] || die "the kubectl context is '$current', not the cluster '$1'; pass --context or fix the kubeconfig"
}
