#!/usr/bin/env bash
# costlake as a Scaleway Serverless Job with the scw CLI: the same job as main.tf, step by step.
# Needs: scw (configured for the project that holds the job), jq, and these variables:
#   ORGANIZATION_ID, PROJECT_ID, IMAGE (rg.fr-par.scw.cloud/<namespace>/costlake:<tag>), LAKE (s3://<bucket>/costlake),
#   CLICKHOUSE_URL (https://<user>@<host>:8443/costlake), CLICKHOUSE_PASSWORD,
#   COLLECTOR_ACCESS_KEY + COLLECTOR_SECRET_KEY: the API key of an application with the read-only policy below,
#   LAKE_ACCESS_KEY + LAKE_SECRET_KEY: the API key of an application allowed to write the lake's bucket.
# Run it once: a second run would create the secrets and the job again (update them with `scw secret version
# create` and `scw jobs definition update` instead).
set -euo pipefail
REGION=${REGION:-fr-par}

# The collector's policy (read-only), for reference, as IAM permission sets:
#   organisation: ProjectReadOnly, BillingReadOnly
#   projects:     InstancesReadOnly, BlockStorageReadOnly, LoadBalancersReadOnly, RelationalDatabasesReadOnly,
#                 KubernetesReadOnly, IPAMReadOnly, ObservabilityFullAccess (temporary Cockpit tokens; with
#                 tokens given in COSTLAKE_COCKPIT_TOKENS, ObservabilityReadOnly)
# The lake's: ObjectStorageBucketsRead, ObjectStorageObjectsRead, ObjectStorageObjectsWrite,
#             ObjectStorageObjectsDelete on the bucket's project.

# Secrets live in Secret Manager; the job references them.
secret() { # name value -> secret id
  local id
  id=$(scw secret secret create name="$1" project-id="$PROJECT_ID" region="$REGION" -o json | jq -r .id)
  printf '%s' "$2" | scw secret version create secret-id="$id" region="$REGION" data=@/dev/stdin >/dev/null
  echo "$id"
}
scw_secret=$(secret costlake-scw-secret-key "$COLLECTOR_SECRET_KEY")
s3_secret=$(secret costlake-s3-secret-key "$LAKE_SECRET_KEY")
clickhouse_secret=$(secret costlake-clickhouse-password "$CLICKHOUSE_PASSWORD")

# 1 vCPU, 2 GiB, 2 hours (sizing: BENCHMARKS.md), every morning at 06:30 Paris time.
job=$(scw jobs definition create \
  name=costlake \
  project-id="$PROJECT_ID" \
  region="$REGION" \
  image-uri="$IMAGE" \
  cpu-limit=1000 \
  memory-limit=2048 \
  job-timeout=7200s \
  cron-schedule.schedule="30 6 * * *" \
  cron-schedule.timezone=Europe/Paris \
  environment-variables.SCW_ACCESS_KEY="$COLLECTOR_ACCESS_KEY" \
  environment-variables.SCW_DEFAULT_ORGANIZATION_ID="$ORGANIZATION_ID" \
  environment-variables.SCW_DEFAULT_REGION="$REGION" \
  environment-variables.COSTLAKE_LAKE="$LAKE" \
  environment-variables.COSTLAKE_S3_ACCESS_KEY="$LAKE_ACCESS_KEY" \
  environment-variables.COSTLAKE_WAREHOUSE="$CLICKHOUSE_URL" \
  environment-variables.COSTLAKE_LOG_FORMAT=json \
  -o json | jq -r .id)

scw jobs secret create job-definition-id="$job" region="$REGION" \
  secrets.0.secret-manager-id="$scw_secret" secrets.0.secret-manager-version=latest \
  secrets.0.env-var-name=SCW_SECRET_KEY \
  secrets.1.secret-manager-id="$s3_secret" secrets.1.secret-manager-version=latest \
  secrets.1.env-var-name=COSTLAKE_S3_SECRET_KEY \
  secrets.2.secret-manager-id="$clickhouse_secret" secrets.2.secret-manager-version=latest \
  secrets.2.env-var-name=COSTLAKE_CLICKHOUSE_PASSWORD

echo "job definition $job; run it now with: scw jobs definition start $job region=$REGION"
