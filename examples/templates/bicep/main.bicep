// A flexible server with its server parameters as child resources, and a change to a server
// that already exists (declared with `existing`). `bicep build main.bicep` compiles this file
// to main.json (languageVersion 2.0: resources keyed by symbolic name), which is what
// `policyengine scan` reads when the Bicep CLI is not installed.

@description('Name of the new flexible server.')
param serverName string = 'pg-bicep-${uniqueString(resourceGroup().id)}'

param location string = resourceGroup().location

@secure()
param administratorLoginPassword string

@allowed(['on', 'off'])
param requireSecureTransport string = 'on'

@description('A server created before this template, whose TLS floor this template lowers.')
param legacyServerName string = 'pg-legacy-reporting'

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: serverName
  location: location
  sku: {
    name: 'Standard_D2ds_v5'
    tier: 'GeneralPurpose'
  }
  properties: {
    version: '16'
    administratorLogin: 'pgadmin'
    administratorLoginPassword: administratorLoginPassword
    storage: {
      storageSizeGB: 64
    }
  }
}

resource secureTransport 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: requireSecureTransport
    source: 'user-override'
  }
}

resource threatProtection 'Microsoft.DBforPostgreSQL/flexibleServers/advancedThreatProtectionSettings@2024-08-01' = {
  parent: server
  name: 'Default'
  properties: {
    state: 'Enabled'
  }
}

resource legacyServer 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: legacyServerName
}

resource legacyTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: legacyServer
  name: 'ssl_min_protocol_version'
  properties: {
    value: 'TLSv1.1'
    source: 'user-override'
  }
}

output serverId string = server.id
