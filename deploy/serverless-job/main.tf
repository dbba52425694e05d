# costlake as a Scaleway Serverless Job: every night, `costlake run` collects the organisation's bill, inventory
# and metrics into the lake (Object Storage) and loads them into a ClickHouse server.
#
#   terraform init && terraform apply -var organization_id=... -var project_id=... \
#     -var image=rg.fr-par.scw.cloud/<namespace>/costlake:<tag> \
#     -var clickhouse_url=https://costlake@<host>:8443/costlake -var lake=s3://<bucket>/costlake
#
# The image is the repository's Dockerfile (server mode: no embedded engine inside), pushed to a Container
# Registry namespace. Configuration is only environment variables; every secret comes from Secret Manager.
# Sizing (BENCHMARKS.md): collecting 50,000 servers' inventory and bill peaks at 134 MiB; the first Cockpit
# collection of 1,000 Instances (31 days of 5-minute points) at 925 MiB, later nights fetch one day. Loading runs
# in the ClickHouse server, not in the job. FinOps charges take about 30 minutes for 50,000 servers at the
# default 20 requests per second, hence the timeout.

terraform {
  required_providers {
    scaleway = {
      source  = "scaleway/scaleway"
      version = ">= 2.50"
    }
  }
  required_version = ">= 1.5"
}

variable "organization_id" {
  type        = string
  description = "The organisation costlake reports on."
}

variable "project_id" {
  type        = string
  description = "The project that holds the job, its secrets and the lake's bucket."
}

variable "collected_project_ids" {
  type        = list(string)
  default     = []
  description = "Projects whose resources costlake reads; empty means every project of the organisation."
}

variable "region" {
  type    = string
  default = "fr-par"
}

variable "image" {
  type        = string
  description = "The costlake image, e.g. rg.fr-par.scw.cloud/<namespace>/costlake:<tag>."
}

variable "lake" {
  type        = string
  description = "s3://<bucket>/<prefix> on Scaleway Object Storage, in var.region."
}

variable "clickhouse_url" {
  type        = string
  description = "https://<user>@<host>:8443/<database> of the ClickHouse server (its password goes to Secret Manager)."
}

variable "clickhouse_password" {
  type      = string
  sensitive = true
}

variable "schedule" {
  type        = string
  default     = "30 6 * * *"
  description = "Cron schedule. Scaleway recomputes consumption during the night; a morning run sees yesterday whole."
}

# --- Identity: one read-only application for the Scaleway APIs, one for the lake's bucket -------------------------

resource "scaleway_iam_application" "collector" {
  name        = "costlake-collector"
  description = "costlake: reads billing, inventory and metrics (read-only)"
}

resource "scaleway_iam_policy" "collector" {
  name           = "costlake-collector-read-only"
  application_id = scaleway_iam_application.collector.id

  rule {
    organization_id      = var.organization_id
    permission_set_names = ["ProjectReadOnly", "BillingReadOnly"]
  }

  rule {
    # Inventory and metrics, on the projects to cover (or every project of the organisation).
    organization_id = length(var.collected_project_ids) == 0 ? var.organization_id : null
    project_ids     = length(var.collected_project_ids) == 0 ? null : var.collected_project_ids
    permission_set_names = [
      "InstancesReadOnly", # Instances, volumes, IPs, snapshots, and the scaling groups (autoscaling API)
      "BlockStorageReadOnly",
      "LoadBalancersReadOnly",
      "RelationalDatabasesReadOnly",
      "KubernetesReadOnly",
      "IPAMReadOnly",
      # Temporary Cockpit tokens are created and deleted by each run: that needs ObservabilityFullAccess. With
      # tokens of your own in COSTLAKE_COCKPIT_TOKENS, ObservabilityReadOnly is enough.
      "ObservabilityFullAccess",
    ]
  }
}

resource "scaleway_iam_api_key" "collector" {
  application_id     = scaleway_iam_application.collector.id
  description        = "costlake collector (Serverless Job)"
  default_project_id = var.project_id
}

resource "scaleway_iam_application" "lake" {
  name        = "costlake-lake"
  description = "costlake: writes its lake (Parquet snapshots and manifests) to Object Storage"
}

resource "scaleway_iam_policy" "lake" {
  name           = "costlake-lake-objects"
  application_id = scaleway_iam_application.lake.id

  rule {
    project_ids = [var.project_id]
    # Runs write their files, commit by a manifest, and remove the files of runs that died uncommitted.
    permission_set_names = ["ObjectStorageBucketsRead", "ObjectStorageObjectsRead", "ObjectStorageObjectsWrite", "ObjectStorageObjectsDelete"]
  }
}

resource "scaleway_iam_api_key" "lake" {
  application_id     = scaleway_iam_application.lake.id
  description        = "costlake lake (Serverless Job)"
  default_project_id = var.project_id
}

# --- Secrets: referenced by the job, never written in its environment ----------------------------------------------

locals {
  secrets = {
    SCW_SECRET_KEY               = scaleway_iam_api_key.collector.secret_key
    COSTLAKE_S3_SECRET_KEY       = scaleway_iam_api_key.lake.secret_key
    COSTLAKE_CLICKHOUSE_PASSWORD = var.clickhouse_password
  }
}

resource "scaleway_secret" "costlake" {
  for_each   = local.secrets
  name       = "costlake-${lower(replace(each.key, "_", "-"))}"
  project_id = var.project_id
  region     = var.region
}

resource "scaleway_secret_version" "costlake" {
  for_each  = local.secrets
  secret_id = scaleway_secret.costlake[each.key].id
  region    = var.region
  data      = each.value
}

# --- The job ------------------------------------------------------------------------------------------------------

resource "scaleway_job_definition" "costlake" {
  name         = "costlake"
  description  = "costlake run: collect the organisation's bill, inventory and metrics, load them into ClickHouse"
  project_id   = var.project_id
  region       = var.region
  image_uri    = var.image # its command is `costlake run`
  cpu_limit    = 1000      # mvCPU
  memory_limit = 2048      # MiB
  timeout      = "2h"

  cron {
    schedule = var.schedule
    timezone = "Europe/Paris"
  }

  env = {
    SCW_ACCESS_KEY              = scaleway_iam_api_key.collector.access_key
    SCW_DEFAULT_ORGANIZATION_ID = var.organization_id
    SCW_DEFAULT_REGION          = var.region
    COSTLAKE_LAKE               = var.lake
    COSTLAKE_S3_ACCESS_KEY      = scaleway_iam_api_key.lake.access_key
    COSTLAKE_WAREHOUSE          = var.clickhouse_url
    COSTLAKE_LOG_FORMAT         = "json"
  }

  dynamic "secret_reference" {
    for_each = local.secrets
    content {
      secret_id      = scaleway_secret.costlake[secret_reference.key].id
      secret_version = "latest"
      environment    = secret_reference.key
    }
  }

  depends_on = [scaleway_secret_version.costlake]
}

output "job_definition_id" {
  value = scaleway_job_definition.costlake.id
}
