#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Deploys a Muxly release to Google Kubernetes Engine with the gcp overlay (Managed Service for
# Apache Kafka, Cloud SQL through the Auth Proxy, Cloud Storage through its S3 API).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=kubernetes.sh
source "$(dirname "${BASH_SOURCE[0]}")/kubernetes.sh"

usage() {
  cat <<HELP
usage: deploy/scripts/deploy-gcp.sh --cluster NAME --region REGION --project PROJECT --image IMAGE [options]

Points kubectl at the GKE cluster, creates or updates the muxly-secrets Secret from the
environment (every key of deploy/kubernetes/secrets.example.env must be set), applies
deploy/kubernetes/overlays/gcp with the image, waits for the migration and the rollout, and
prints where the APIs answer. Edit the overlay's muxly.env (Kafka bootstrap address), its
Cloud SQL instance and its Workload Identity service account first.

options:
  --cluster NAME      GKE cluster name (or GKE_CLUSTER)
  --region REGION     the cluster's region (or GCP_REGION)
  --project PROJECT   Google Cloud project (or GCP_PROJECT)
  --image IMAGE       the image to run, with its tag (or MUXLY_IMAGE)
  --namespace NS      Kubernetes namespace (default muxly)
  --context NAME      use this kubectl context instead of 'gcloud container clusters get-credentials'
  --dry-run           print what would be done, change nothing
  -h, --help          this text
HELP
}

cluster="${GKE_CLUSTER:-}" region="${GCP_REGION:-}" project="${GCP_PROJECT:-}" image="${MUXLY_IMAGE:-}"
namespace=muxly context=""
while (($#)); do
  case "$1" in
    --cluster) cluster="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --region) region="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --project) project="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --image) image="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --namespace) namespace="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --context) context="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

need_value --cluster "$cluster" "the GKE cluster's name (or GKE_CLUSTER)"
need_value --region "$region" "the cluster's region (or GCP_REGION)"
need_value --project "$project" "the Google Cloud project (or GCP_PROJECT)"
need_value --image "$image" "the image to deploy, e.g. europe-west1-docker.pkg.dev/my-project/muxly/muxly:0.1.0"
need_tool kubectl "install kubectl 1.27 or newer"
[[ -n "$context" ]] || need_tool gcloud "install the Google Cloud CLI with gke-gcloud-auth-plugin and sign in (gcloud auth login)"
check_secret_environment

if [[ -n "$context" ]]; then
  run kubectl config use-context "$context"
else
  run gcloud container clusters get-credentials "$cluster" --region "$region" --project "$project"
fi
check_context "${context:-$cluster}"
apply_release gcp "$image" "$namespace"
