# The configuration behind plan.json, for reading alongside it: plan.json is what
#
#   terraform plan -out plan.out && terraform show -json plan.out > plan.json
#
# prints for it (written by hand in that format; this file is not run by the tests).
# Scan it with:  policyengine scan --pre-deployment examples/templates/terraform/plan.json

terraform {
  required_version = ">= 1.5"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
  }
}

# No subscription_id here: ARM_SUBSCRIPTION_ID decides it when Terraform runs, so the plan
# does not show it and the records read /subscriptions/[azurerm provider subscription]/...
provider "azurerm" {
  features {}
}

variable "admin_password" {
  type      = string
  sensitive = true
}

variable "app_configuration_id" {
  description = "App Configuration store holding the platform team's TLS floor"
  type        = string
}

resource "azurerm_resource_group" "db" {
  name     = "rg-orders-weu"
  location = "westeurope"
}

# 1. Secure: private access only, TLS required, TLS 1.3 at least.
resource "azurerm_postgresql_flexible_server" "orders" {
  name                          = "pg-orders-weu"
  resource_group_name           = azurerm_resource_group.db.name
  location                      = azurerm_resource_group.db.location
  version                       = "16"
  sku_name                      = "GP_Standard_D2ds_v5"
  storage_mb                    = 65536
  zone                          = "1"
  administrator_login           = "pgadmin"
  administrator_password        = var.admin_password
  public_network_access_enabled = false
}

resource "azurerm_postgresql_flexible_server_configuration" "orders_secure_transport" {
  name      = "require_secure_transport"
  server_id = azurerm_postgresql_flexible_server.orders.id
  value     = "on"
}

resource "azurerm_postgresql_flexible_server_configuration" "orders_tls" {
  name      = "ssl_min_protocol_version"
  server_id = azurerm_postgresql_flexible_server.orders.id
  value     = "TLSv1.3"
}

# 2. Insecure: plaintext connections allowed, TLS 1.1 accepted.
resource "azurerm_postgresql_flexible_server" "reports" {
  name                   = "pg-reports-weu"
  resource_group_name    = azurerm_resource_group.db.name
  location               = azurerm_resource_group.db.location
  version                = "16"
  sku_name               = "B_Standard_B2s"
  storage_mb             = 32768
  zone                   = "1"
  administrator_login    = "pgadmin"
  administrator_password = var.admin_password
}

resource "azurerm_postgresql_flexible_server_configuration" "reports_secure_transport" {
  name      = "require_secure_transport"
  server_id = azurerm_postgresql_flexible_server.reports.id
  value     = "off"
}

resource "azurerm_postgresql_flexible_server_configuration" "reports_tls" {
  name      = "ssl_min_protocol_version"
  server_id = azurerm_postgresql_flexible_server.reports.id
  value     = "TLSv1.1"
}

# 3. Known only after apply: the TLS floor is read from App Configuration, and the read waits
#    for the resource group (depends_on), so the plan cannot show the value.
data "azurerm_app_configuration_key" "tls_floor" {
  configuration_store_id = var.app_configuration_id
  key                    = "postgres/ssl_min_protocol_version"
  depends_on             = [azurerm_resource_group.db]
}

resource "azurerm_postgresql_flexible_server" "analytics" {
  name                   = "pg-analytics-weu"
  resource_group_name    = azurerm_resource_group.db.name
  location               = azurerm_resource_group.db.location
  version                = "16"
  sku_name               = "MO_Standard_E4ds_v5"
  storage_mb             = 131072
  zone                   = "2"
  administrator_login    = "pgadmin"
  administrator_password = var.admin_password
}

resource "azurerm_postgresql_flexible_server_configuration" "analytics_tls" {
  name      = "ssl_min_protocol_version"
  server_id = azurerm_postgresql_flexible_server.analytics.id
  value     = data.azurerm_app_configuration_key.tls_floor.value
}
