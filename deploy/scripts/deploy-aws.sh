#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Deploys a Muxly release to Amazon EKS with the aws overlay (MSK, RDS, S3 through IRSA).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=kubernetes.sh
source "$(dirname "${BASH_SOURCE[0]}")/kubernetes.sh"

usage() {
  cat <<HELP
usage: deploy/scripts/deploy-aws.sh --cluster NAME --region REGION --image REGISTRY/NAME:TAG [options]

Points kubectl at the EKS cluster, creates or updates the muxly-secrets Secret from the
environment (every key of deploy/kubernetes/secrets.example.env must be set), applies
deploy/kubernetes/overlays/aws with the image, waits for the migration and the rollout, and
prints where the APIs answer. Edit the overlay's muxly.env (MSK brokers) and its IAM role first.

options:
  --cluster NAME    EKS cluster name (or EKS_CLUSTER)
  --region REGION   AWS region (or AWS_REGION)
  --image IMAGE     the image to run, with its tag (or MUXLY_IMAGE)
  --namespace NS    Kubernetes namespace (default muxly)
  --context NAME    use this kubectl context instead of 'aws eks update-kubeconfig'
  --dry-run         print what would be done, change nothing
  -h, --help        this text
HELP
}

cluster="${EKS_CLUSTER:-}" region="${AWS_REGION:-}" image="${MUXLY_IMAGE:-}" namespace=muxly context=""
while (($#)); do
  case "$1" in
    --cluster) cluster="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --region) region="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --image) image="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --namespace) namespace="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --context) context="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

need_value --cluster "$cluster" "the EKS cluster's name (or EKS_CLUSTER)"
need_value --region "$region" "the AWS region (or AWS_REGION)"
need_value --image "$image" "the image to deploy, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/muxly:0.1.0"
need_tool kubectl "install kubectl 1.27 or newer"
[[ -n "$context" ]] || need_tool aws "install the AWS CLI v2 and sign in (aws configure sso)"
check_secret_environment

if [[ -n "$context" ]]; then
  run kubectl config use-context "$context"
else
  run aws eks update-kubeconfig --name "$cluster" --region "$region"
fi
check_context "${context:-$cluster}"
apply_release aws "$image" "$namespace"
